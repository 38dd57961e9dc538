// Runs once in Node before any test: converts the Hugging Face reference checkpoints (made by
// transformers itself, see ../shared/reference/README.md) with our converter, and copies their
// fixtures next to them, so tests inside workerd can read both through the TEST_MODELS binding.
import { copyFile, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { convertCheckpoint } from "../../tools/convert/index";
import { writeOnnxModelFolder } from "../../tools/fetch/onnx-export";
import { writeSyntheticCheckpoint } from "../../tools/synth/index";
import { writeBrokenModels } from "./broken-models";
import { MODEL_CACHE_DIR, REFERENCE_DIR } from "./model-files";
import { writeServedOutlierModels } from "../tools/outlier-checkpoint";

export const REFERENCE_CHECKPOINTS = ["tiny-a", "tiny-b"] as const;

export default async function setup(): Promise<void> {
  if (!existsSync(path.join(REFERENCE_DIR, "README.md"))) {
    if (process.env.CI) throw new Error(`reference checkpoints not found at ${REFERENCE_DIR}`);
    console.warn(`[setup] no reference checkpoints at ${REFERENCE_DIR}: Hugging Face fidelity tests will be skipped`);
  }
  await mkdir(MODEL_CACHE_DIR, { recursive: true });
  const available: string[] = [];
  if (existsSync(path.join(REFERENCE_DIR, "README.md"))) {
    for (const name of REFERENCE_CHECKPOINTS) {
      for (const dtype of ["fp32", "int8"] as const) {
        await convertCheckpoint(path.join(REFERENCE_DIR, name), { dtype, outDir: path.join(MODEL_CACHE_DIR, `${name}-${dtype}`), name });
      }
      // int8 converts by default to the LM-head kernel's layout (graph + embedding.int8); the old
      // single-graph layout too, which the kernel must match bit for bit.
      await convertCheckpoint(path.join(REFERENCE_DIR, name), { dtype: "int8", outDir: path.join(MODEL_CACHE_DIR, `${name}-int8-graph`), name, embedding: "graph" });
      for (const file of [`${name}.fixtures.json`, `${name}.logits.bin`]) {
        await copyFile(path.join(REFERENCE_DIR, file), path.join(MODEL_CACHE_DIR, file));
      }
      available.push(name);
    }
  }
  // The reference ONNX export in the hub's Optimum / transformers.js layout, made into model
  // folders exactly as `npm run model:fetch` makes them (served as they are, not converted).
  const onnxExport = path.join(REFERENCE_DIR, "tiny-a-onnx");
  if (existsSync(path.join(onnxExport, "onnx/model.onnx"))) {
    for (const [dtype, graph] of [["fp32", "onnx/model.onnx"], ["int8", "onnx/model_quantized.onnx"]] as const) {
      await writeOnnxModelFolder({
        repoDir: onnxExport, choice: { graph, externalData: [] }, dtype,
        outDir: path.join(MODEL_CACHE_DIR, `tiny-a-onnx-${dtype}`), name: "tiny-a-onnx", source: "reference/tiny-a-onnx",
      });
    }
    available.push("tiny-a-onnx");
    // Our converter's left-padded graph (--attention mha, MultiHeadAttention): the same KV layout
    // as those exports.
    const mhaDir = path.join(MODEL_CACHE_DIR, "tiny-a-mha-fp32");
    await convertCheckpoint(path.join(REFERENCE_DIR, "tiny-a"), { dtype: "fp32", outDir: mhaDir, name: "tiny-a", attention: "mha" });
  }
  // A synthetic checkpoint with yet another shape, never seen by the reference fixtures.
  const synthDir = path.join(MODEL_CACHE_DIR, "synthetic-checkpoint");
  await rm(synthDir, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ layers: 1, embd: 32, heads: 2, seed: 7, outDir: synthDir, positions: 64 });
  await convertCheckpoint(synthDir, { dtype: "int8", outDir: path.join(MODEL_CACHE_DIR, "synthetic-int8"), name: "synthetic-int8" });
  await writeBrokenModels(path.join(MODEL_CACHE_DIR, "synthetic-int8"), MODEL_CACHE_DIR);
  await writeCorruptCopy(path.join(MODEL_CACHE_DIR, "synthetic-int8"), path.join(MODEL_CACHE_DIR, "broken-embedding"), "embedding.int8");
  await writeCorruptCopy(path.join(MODEL_CACHE_DIR, "synthetic-int8"), path.join(MODEL_CACHE_DIR, "broken-mlp"), "mlp.int8");
  await writeShardedModels(available);
  // A small checkpoint with GPT-2-like activation outliers, for int8 accuracy in workerd (int8.test.ts).
  await writeServedOutlierModels(MODEL_CACHE_DIR);
  await writeFile(path.join(MODEL_CACHE_DIR, "available.json"), JSON.stringify({ reference: available }));
}

/** A copy of a kernel-layout model where one of the kernels' files has one flipped byte (near its end). */
async function writeCorruptCopy(goodDir: string, dir: string, name: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await cp(goodDir, dir, { recursive: true });
  const file = path.join(dir, name);
  const bytes = Buffer.from(await readFile(file));
  bytes[bytes.length - 3] ^= 0xff;
  await writeFile(file, bytes);
}

/**
 * Sharded models (issue 14) and the unsharded conversion each is compared with: tiny-a in two shards
 * (one block each), and a synthetic four-block checkpoint in three (ranges of unequal size).
 */
async function writeShardedModels(available: readonly string[]): Promise<void> {
  if (available.includes("tiny-a")) {
    await convertCheckpoint(path.join(REFERENCE_DIR, "tiny-a"), { dtype: "int8", outDir: path.join(MODEL_CACHE_DIR, "tiny-a-int8-sharded"), name: "tiny-a", shards: { count: 2 } });
  }
  const synthDir = path.join(MODEL_CACHE_DIR, "synthetic-l4-checkpoint");
  await rm(synthDir, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ layers: 4, embd: 64, heads: 4, seed: 11, outDir: synthDir, positions: 128 });
  await convertCheckpoint(synthDir, { dtype: "int8", outDir: path.join(MODEL_CACHE_DIR, "synthetic-l4-int8"), name: "synthetic-l4" });
  await convertCheckpoint(synthDir, { dtype: "int8", outDir: path.join(MODEL_CACHE_DIR, "synthetic-l4-int8-sharded"), name: "synthetic-l4", shards: { count: 3 } });
}
