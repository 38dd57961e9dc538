// Paths and loaders for the shared Hugging Face reference checkpoints and their fixtures.
import { readFileSync } from "node:fs";
import { REFERENCE_DIR } from "../support/model-files";

export { REFERENCE_DIR };
export const CACHE_DIR = new URL("../../.cache/test-tools/", import.meta.url).pathname;
export const VOCAB = 50257;
export const CHECKPOINTS = ["tiny-a", "tiny-b"] as const;

export interface Fixtures {
  prompts: Array<{ prompt: string; prompt_ids: number[]; logits_sum: number; greedy_max_new_tokens_20: number[] }>;
  batched_left_padded_greedy_max_new_16: { input_ids: number[][]; attention_mask: number[][]; output_ids: number[][] };
}

export function fixtures(name: string): Fixtures {
  return JSON.parse(readFileSync(`${REFERENCE_DIR}/${name}.fixtures.json`, "utf8"));
}

/** [prompts, VOCAB] last-position logits computed by transformers. */
export function referenceLogits(name: string): Float32Array {
  const bytes = readFileSync(`${REFERENCE_DIR}/${name}.logits.bin`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** "equal", or where two float arrays first differ: a readable failure instead of a diff of 200k numbers. */
export function compareBits(actual: ArrayLike<number>, expected: ArrayLike<number>): string {
  if (actual.length !== expected.length) return `length ${actual.length} vs ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) return `first difference at ${i}: ${actual[i]} vs ${expected[i]}`;
  }
  return "equal";
}
