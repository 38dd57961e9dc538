// The benchmark's models: seeded synthetic checkpoints of real GPT-2 shapes, converted to int8 with
// the current converter. A conversion is reused while the converter's sources are unchanged.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { convertCheckpoint } from "../convert/index.js";
import { writeSyntheticCheckpoint } from "../synth/index.js";
import { converterStamp } from "../lib/converter-stamp.js";

export interface BenchShape {
  name: string;
  layers: number;
  embd: number;
  heads: number;
}

export const FULL_SHAPES: BenchShape[] = [
  { name: "distilgpt2", layers: 6, embd: 768, heads: 12 },
  { name: "gpt2", layers: 12, embd: 768, heads: 12 },
];
export const QUICK_SHAPES: BenchShape[] = [{ name: "tiny", layers: 2, embd: 128, heads: 4 }];

export const BENCH_DIR = resolve(import.meta.dirname, "../../.cache/bench");

/** Folder name (under BENCH_DIR) of the int8 model of `shape`, converting it if needed. */
export async function ensureBenchModel(shape: BenchShape, log: (line: string) => void): Promise<string> {
  const checkpoint = join(BENCH_DIR, `${shape.name}-checkpoint`);
  const folder = `${shape.name}-int8`;
  const stampFile = join(BENCH_DIR, folder, "bench-stamp.txt");
  const stamp = `${JSON.stringify(shape)} ${await converterHashAtStart}`;
  if (existsSync(stampFile) && (await readFile(stampFile, "utf8")) === stamp) return folder;
  if (!existsSync(join(checkpoint, "config.json"))) {
    log(`writing synthetic ${shape.name}-shaped checkpoint (${shape.layers}×${shape.embd}, ${shape.heads} heads)…`);
    await writeSyntheticCheckpoint({ layers: shape.layers, embd: shape.embd, heads: shape.heads, seed: 1, outDir: checkpoint });
  }
  log(`converting ${shape.name} to int8…`);
  await convertCheckpoint(checkpoint, { dtype: "int8", outDir: join(BENCH_DIR, folder), name: folder });
  // The plain onnxruntime loops run the one-graph layout (input_ids → logits), as any ORT user would.
  await convertCheckpoint(checkpoint, { dtype: "int8", outDir: join(BENCH_DIR, plainFolder(folder)), name: folder, embedding: "graph" });
  await writeFile(stampFile, stamp);
  return folder;
}

/**
 * Folder name (under BENCH_DIR) of `shape`'s int8 model split into `shards` shards (blocks as even
 * as can be: 2 shards of distilgpt2 are 3 + 3 blocks, 4 of GPT-2-124M 3 blocks each, what
 * `--shard-memory 120` plans for it), converting it if needed.
 */
export async function ensureShardedBenchModel(shape: BenchShape, shards: number, log: (line: string) => void): Promise<string> {
  const plain = await ensureBenchModel(shape, log); // the checkpoint, and the name the shards serve under
  const folder = `${plain}-sharded${shards}`;
  const stampFile = join(BENCH_DIR, folder, "bench-stamp.txt");
  const stamp = `${JSON.stringify(shape)} shards=${shards} ${await converterHashAtStart}`;
  if (existsSync(stampFile) && (await readFile(stampFile, "utf8")) === stamp) return folder;
  log(`converting ${shape.name} into ${shards} shards…`);
  await convertCheckpoint(join(BENCH_DIR, `${shape.name}-checkpoint`), { dtype: "int8", outDir: join(BENCH_DIR, folder), name: plain, shards: { count: shards } });
  await writeFile(stampFile, stamp);
  return folder;
}

/** The same model converted as one graph (--embedding graph): what the plain loops run. */
export const plainFolder = (folder: string) => `${folder}-graph`;

// Hashed once, when this process starts: the converter code it runs is the code loaded then, even
// if the sources change during a long run (a later stamp would vouch for code it never ran).
const converterHashAtStart = Promise.resolve(converterStamp().slice(0, 16));

