// Sharded models in Node (onnxruntime-web's node build, the Worker's WASM kernels): each shard
// folder in a real session behind the shard runtime (src/shard/core.ts), the front's LM-head kernel
// from the embedding file, and the unsharded graph of the same checkpoint to compare against.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { TiedEmbedding } from "../../src/engine/lm-head/index.js";
import type { ShardStepRequest, ShardStepResult } from "../../src/engine/shard-protocol.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import { parseManifest } from "../../src/model/verify.js";
import { ShardCore } from "../../src/shard/core.js";
import { shardForward, type ShardForward } from "../../src/shard/graph.js";
import { lmHeadModuleFromDisk } from "../../tools/bench/lm-head-onnx.js";
import { EMBEDDING_FILE, readEmbeddingFile } from "../../tools/convert/embedding-file.js";

ort.env.wasm.numThreads = 1;

export async function openSession(dir: string): Promise<{ manifest: ModelManifest; session: ort.InferenceSession }> {
  const manifest = parseManifest(new Uint8Array(await readFile(join(dir, "manifest.json"))), dir);
  const data = new Uint8Array(await readFile(join(dir, "model.onnx.data")));
  const session = await ort.InferenceSession.create(new Uint8Array(await readFile(join(dir, "model.onnx"))), {
    executionProviders: ["wasm"],
    externalData: [{ path: "model.onnx.data", data }],
  });
  return { manifest, session };
}

export async function openShard(dir: string): Promise<{ manifest: ModelManifest; forward: ShardForward }> {
  const { manifest, session } = await openSession(dir);
  return { manifest, forward: shardForward(session, ort.Tensor, manifest, dir) };
}

/** A fresh core per shard (sessions are opened one after the other: concurrent creation gave NaNs). */
export async function openCores(dir: string): Promise<{ front: ModelManifest; cores: ShardCore[]; forwards: ShardForward[] }> {
  const front = parseManifest(new Uint8Array(await readFile(join(dir, "manifest.json"))), dir);
  const cores: ShardCore[] = [];
  const forwards: ShardForward[] = [];
  for (const entry of front.shards ?? []) {
    const { manifest, forward } = await openShard(join(dir, entry.path));
    const arch = manifest.architecture;
    forwards.push(forward);
    cores.push(new ShardCore(forward, { shard: manifest.shard!, heads: arch.n_head, width: arch.n_embd, positions: arch.n_positions }));
  }
  return { front, cores, forwards };
}

/** The front's kernel (embedding lookup and tied LM head) from a model folder's embedding file. */
export async function openKernel(dir: string, manifest: ModelManifest): Promise<TiedEmbedding> {
  const { n_embd: hidden, vocab_size: vocab } = manifest.architecture;
  const { table, scales } = readEmbeddingFile(new Uint8Array(await readFile(join(dir, EMBEDDING_FILE))), vocab, hidden);
  const kernel = await TiedEmbedding.create(await lmHeadModuleFromDisk(), { vocab, hidden });
  kernel.table.set(table);
  kernel.scales.set(scales);
  return kernel;
}

/** One step through every shard in order, as the front sends it (lastOnly to the last shard only). */
export async function pipeline(cores: ShardCore[], request: Omit<ShardStepRequest, "lastOnly">, lastOnly = false): Promise<ShardStepResult> {
  let result: ShardStepResult = { hidden: request.hidden, positions: request.seq };
  for (const [i, core] of cores.entries()) {
    result = await core.step({ ...request, hidden: result.hidden, lastOnly: lastOnly && i === cores.length - 1 });
  }
  return result;
}

/** Positions past … past + seq − 1 of each row, row-major. */
export const positionsOf = (pasts: number[], seq: number): number[] => pasts.flatMap((past) => Array.from({ length: seq }, (_, i) => past + i));

export function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
