// The synthetic outlier checkpoint the int8 accuracy tests measure (tools/synth/outliers.ts), and
// the teacher-forcing sequences: held-out English text (not in the calibration corpus) and
// seeded random tokens, with fp32 logits from the independent forward (hf-forward.ts).
import { encode } from "../../src/tokenizer/index.js";
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
