// int8 activations are quantized per row, so a sequence's logits depend on that sequence alone: the
// same whether it runs alone or stacked (left-padded, masked) with other requests' rows, as the
// continuous-batching scheduler does, and whether its prompt is prefilled at once or in chunks, as
// prefix KV reuse does. The per-tensor scheme (README yardstick) is checked to break both, so the
// batch here really is one where another row changes the activation scale.
import { beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { argmax, forward, lastLogits, loadModel, type LoadedModel } from "./ort-runner.js";
import { CACHE_DIR, REFERENCE_DIR, VOCAB, fixtures, maxAbsDiff } from "./reference.js";

const NAME = "tiny-a";
const PAD = 50256;

/** Left-pad rows to one length; masks mark the pads with 0 and positions restart at the first token. */
function leftPadded(rows: number[][]) {
  const S = Math.max(...rows.map((r) => r.length));
  const pad = (r: number[]) => S - r.length;
  return {
    ids: rows.map((r) => [...new Array(pad(r)).fill(PAD), ...r]),
    mask: rows.map((r) => [...new Array(pad(r)).fill(0), ...new Array(r.length).fill(1)]),
    positions: rows.map((r) => [...new Array(pad(r)).fill(0), ...r.map((_, i) => i)]),
  };
}

/** Last logits of `target` alone and as row 1 of a batch with a row of much larger activations. */
async function aloneAndBatched(m: LoadedModel, target: number[], neighbour: number[]) {
  const alone = lastLogits((await forward(m, [target])).logits, 1, VOCAB, 0);
  const batch = leftPadded([neighbour, target]);
  const stacked = await forward(m, batch.ids, { mask: batch.mask, positions: batch.positions });
  return { alone, batched: lastLogits(stacked.logits, 2, VOCAB, 1) };
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
    await convertCheckpoint(src, { dtype: "int8", outDir: `${CACHE_DIR}${NAME}-int8-last` });
    await convertCheckpoint(src, { dtype: "int8", outDir: `${CACHE_DIR}${NAME}-int8-per-tensor`, int8: { activations: "per-tensor" } });
    perRow = await loadModel(`${CACHE_DIR}${NAME}-int8-last`);
    perTensor = await loadModel(`${CACHE_DIR}${NAME}-int8-per-tensor`);
  });

  it("gives a sequence the same last logits alone and stacked with another row", async () => {
    expect(target.length).toBeLessThan(neighbour.length); // so the target row is left-padded
    const { alone, batched } = await aloneAndBatched(perRow, target, neighbour);
    expect(argmax(batched)).toBe(argmax(alone));
    expect(maxAbsDiff(batched, alone)).toBeLessThanOrEqual(1e-6);
    // Decode steps stack one row per request: the target's next step alone vs under the neighbour.
    const next = [...target, argmax(alone)];
    const step = await aloneAndBatched(perRow, next, [...neighbour, 11]);
    expect(maxAbsDiff(step.batched, step.alone)).toBeLessThanOrEqual(1e-6);
  });

  it("gives a prompt the same last logits prefilled at once and in two chunks", async () => {
    for (const split of [1, Math.floor(prompt.length / 2), prompt.length - 1]) {
      const { whole, chunked } = await wholeAndChunked(perRow, prompt, split);
      expect(argmax(chunked)).toBe(argmax(whole));
      expect(maxAbsDiff(chunked, whole)).toBeLessThan(1e-5);
    }
  });

  it("per-tensor quantization (the yardstick scheme) is not: the checks above can fail", async () => {
    const { alone, batched } = await aloneAndBatched(perTensor, target, neighbour);
    const { whole, chunked } = await wholeAndChunked(perTensor, prompt, Math.floor(prompt.length / 2));
    expect(maxAbsDiff(batched, alone)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(chunked, whole)).toBeGreaterThan(1e-4);
  });
});
