// int8 activations are quantized per row and GroupQueryAttention attends each row over exactly its
// own keys, so a sequence's logits depend on that sequence alone: bit for bit the same whether it
// decodes alone or stacked (right-padded) with other requests' rows, as the continuous-batching
// scheduler does, and whether its prompt is prefilled at once or in chunks, as prefix KV reuse does. The per-tensor scheme (README yardstick) is checked to break both, so the
// batch here really is one where another row changes the activation scale.
import { beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { argmax, batchedGreedyRightPadded, forward, lastLogits, loadModel, type LoadedModel } from "./ort-runner.js";
import { CACHE_DIR, REFERENCE_DIR, VOCAB, fixtures, maxAbsDiff } from "./reference.js";

const NAME = "tiny-a";
const STEPS = 6;

/** Per-step logits of `target` decoded alone and as row 1 of a batch with a row of much larger activations. */
async function aloneAndBatched(m: LoadedModel, target: number[], neighbour: number[]) {
  const alone = await batchedGreedyRightPadded(m, [target], STEPS);
  const batched = await batchedGreedyRightPadded(m, [neighbour, target], STEPS);
  const worst = Math.max(...alone.stepLogits.map((rows, n) => maxAbsDiff(batched.stepLogits[n][1], rows[0])));
  return { worst, aloneTokens: alone.tokens[0], batchedTokens: batched.tokens[1] };
}

/** Last logits of `prompt` prefilled in one run and in two chunks (the second reading the first's past). */
async function wholeAndChunked(m: LoadedModel, prompt: number[], split: number) {
  const whole = lastLogits((await forward(m, [prompt])).logits, 1, VOCAB, 0);
  const first = await forward(m, [prompt.slice(0, split)]);
  const second = await forward(m, [prompt.slice(split)], { past: first.present });
  return { whole, chunked: lastLogits(second.logits, 1, VOCAB, 0) };
}

describe(`int8 ${NAME}: per-row activation quantization is batch-invariant`, () => {
  const fx = fixtures(NAME);
  const target = fx.prompts[1].prompt_ids;
  // A long, repetitive neighbour: its rows reach activation ranges the target's do not.
  const neighbour = [...fx.prompts[0].prompt_ids, ...fx.prompts[0].prompt_ids, ...fx.prompts[1].greedy_max_new_tokens_20];
  const prompt = fx.prompts[1].greedy_max_new_tokens_20;
  let perRow: LoadedModel;
  let perTensor: LoadedModel;

  beforeAll(async () => {
    const src = `${REFERENCE_DIR}/${NAME}`;
    // One-graph layout: onnxruntime alone runs the whole model here.
    await convertCheckpoint(src, { dtype: "int8", outDir: `${CACHE_DIR}${NAME}-int8-last`, embedding: "graph" });
    await convertCheckpoint(src, { dtype: "int8", outDir: `${CACHE_DIR}${NAME}-int8-per-tensor`, int8: { activations: "per-tensor" }, embedding: "graph" });
    perRow = await loadModel(`${CACHE_DIR}${NAME}-int8-last`);
    perTensor = await loadModel(`${CACHE_DIR}${NAME}-int8-per-tensor`);
  }, 120_000); // two conversions, each with a calibration pass

  it("gives a sequence exactly the same logits alone and batched with another row", async () => {
    expect(target.length).toBeLessThan(neighbour.length); // so the target row is padded
    const { worst, aloneTokens, batchedTokens } = await aloneAndBatched(perRow, target, neighbour);
    expect(worst).toBe(0);
    expect(batchedTokens).toEqual(aloneTokens);
  });

  it("gives a prompt the same last logits prefilled at once and in two chunks", async () => {
    for (const split of [1, Math.floor(prompt.length / 2), prompt.length - 1]) {
      const { whole, chunked } = await wholeAndChunked(perRow, prompt, split);
      expect(argmax(chunked)).toBe(argmax(whole));
      expect(maxAbsDiff(chunked, whole)).toBeLessThan(1e-5);
    }
  });

  it("per-tensor quantization (the yardstick scheme) is not: the checks above can fail", async () => {
    const { worst } = await aloneAndBatched(perTensor, target, neighbour);
    const { whole, chunked } = await wholeAndChunked(perTensor, prompt, Math.floor(prompt.length / 2));
    expect(worst).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(chunked, whole)).toBeGreaterThan(1e-4);
  });
});
