// The synthetic outlier checkpoint the int8 accuracy tests measure (tools/synth/outliers.ts), and
// the teacher-forcing sequences: held-out English text (not in the calibration corpus) and
// seeded random tokens, with fp32 logits from the independent forward (hf-forward.ts).
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encode } from "../../src/tokenizer/index.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { DEFAULT_OUTLIERS } from "../../tools/synth/outliers.js";
import { hfForward, loadHfModel } from "./hf-forward.js";
import { seededTokens } from "./int8-metrics.js";

/** Shaped like the issue's: 4 layers, 256 wide, 8 heads (positions cut to 256 to stay small). */
export const OUTLIER_SHAPE = { layers: 4, embd: 256, heads: 8, seed: 11, positions: 256 } as const;

export const HELD_OUT_TEXT =
  "The old bridge over the river had been closed for repairs since the winter floods, so the villagers " +
  "walked an extra mile to the ford. Nobody minded much in summer, when the water was low and warm, but " +
  "by October the children complained about wet shoes and the farmers about their carts.";

export function evaluationSequences(vocab: number): Record<"text" | "random", number[]> {
  return { text: encode(HELD_OUT_TEXT), random: seededTokens(200, vocab, 1) };
}

export async function writeOutlierCheckpoint(outDir: string): Promise<void> {
  await writeSyntheticCheckpoint({ ...OUTLIER_SHAPE, outDir, outliers: DEFAULT_OUTLIERS });
}

/** fp32 logits [S, V] of every position of each sequence, from the independent forward. */
export function fp32Fixtures(checkpointDir: string, sequences: Record<string, number[]>): Record<string, Float32Array> {
  const model = loadHfModel(checkpointDir);
  return Object.fromEntries(Object.entries(sequences).map(([k, ids]) => [k, hfForward(model, ids)]));
}

/** The smaller outlier checkpoint the workerd tests serve (global setup stays fast). */
export const SERVED_OUTLIER_SHAPE = { layers: 2, embd: 128, heads: 4, seed: 5, positions: 128 } as const;
export const SERVED_OUTLIER_FIXTURE = "outlier.fixtures.json";
export const SERVED_OUTLIER_LOGITS = "outlier.logits.bin";

/**
 * For test/support/global-setup.ts: writes the served outlier checkpoint, converts it to int8
 * (ours, and weights-only int8 as the yardstick) as `outlier-int8` / `outlier-int8-weights-only`,
 * and stores the teacher-forcing sequences with their fp32 logits (independent forward) as
 * fixtures: `outlier.fixtures.json` ({ sequences: { text, random } }) and `outlier.logits.bin`
 * (float32 [positions of text then random, V]).
 */
export async function writeServedOutlierModels(cacheDir: string): Promise<void> {
  const source = join(cacheDir, "outlier-checkpoint");
  await rm(source, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ ...SERVED_OUTLIER_SHAPE, outDir: source, outliers: DEFAULT_OUTLIERS });
  await convertCheckpoint(source, { dtype: "int8", outDir: join(cacheDir, "outlier-int8"), name: "outlier" });
  // The same int8 model with its MLPs inside the graphs: what the MLP kernel must match bit for bit.
  await convertCheckpoint(source, { dtype: "int8", outDir: join(cacheDir, "outlier-int8-mlp-graph"), name: "outlier", mlp: "graph" });
  await convertCheckpoint(source, {
    dtype: "int8", outDir: join(cacheDir, "outlier-int8-weights-only"), name: "outlier", int8: { activations: "none", calibrate: false }, embedding: "graph", // the kernel quantizes activations
  });
  const sequences = { text: encode(HELD_OUT_TEXT), random: seededTokens(40, 50257, 2) };
  const logits = fp32Fixtures(source, sequences);
  await writeFile(join(cacheDir, SERVED_OUTLIER_FIXTURE), JSON.stringify({ sequences }));
  const all = new Float32Array(logits.text.length + logits.random.length);
  all.set(logits.text);
  all.set(logits.random, logits.text.length);
  await writeFile(join(cacheDir, SERVED_OUTLIER_LOGITS), new Uint8Array(all.buffer));
}
