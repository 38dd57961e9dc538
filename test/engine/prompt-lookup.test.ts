import { describe, expect, it } from "vitest";
import { lookupDrafts } from "../../src/engine/prompt-lookup";
import type { GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS, type SamplingSettings } from "../../src/sampling/index";
import { deriveSeed } from "../../src/sampling/rng";
import { fakeModel, fakeScheduler, generateAlone, referenceLogits, VOCAB } from "./fake-model";

const EOS = 50256;

describe("lookupDrafts", () => {
  it("continues the earliest earlier occurrence of the last two tokens", () => {
    // last two: [3, 4]; they occur at 2 (followed by 5, 6, 7) and at 7 (followed by 9)
    expect(lookupDrafts([1, 2, 3, 4, 5, 6, 7, 3, 4, 9, 3, 4], 3, EOS)).toEqual([5, 6, 7]);
  });

  it("falls back to the last token alone, and stops at the end of the text or `count`", () => {
    expect(lookupDrafts([8, 1, 2, 9, 2], 5, EOS)).toEqual([9, 2]); // no earlier [9, 2]; 2 occurs at 2
    expect(lookupDrafts([5, 6, 7, 8, 5, 6], 1, EOS)).toEqual([7]);
  });

  it("proposes nothing without a match, and never the end of text", () => {
    expect(lookupDrafts([1, 2, 3], 4, EOS)).toEqual([]);
    expect(lookupDrafts([7], 4, EOS)).toEqual([]);
    expect(lookupDrafts([1, 2, 9, EOS, 4, 1, 2], 4, EOS)).toEqual([9]);
    expect(lookupDrafts([1, 2, 3, 1, 2], 0, EOS)).toEqual([]);
  });
});

/** A model that mostly repeats its text with period 5, now and then breaking the pattern. */
function periodic(history: number[]): Float32Array {
  if (history.length < 5 || history.length % 11 === 0) return referenceLogits(history);
  const logits = new Float32Array(VOCAB).fill(-40);
  logits[history[history.length - 5]] = 4;
  logits[(history[history.length - 1] * 13 + 7) % 50000] = 1.5; // a second choice, for sampling
  return logits;
}

describe("prompt-lookup decoding in the scheduler", () => {
  const GREEDY: SamplingSettings = { ...SAMPLING_DEFAULTS, prompt_lookup_num_tokens: 4 };
  const job = (overrides: Partial<GenerationJob> = {}): GenerationJob => ({
    promptIds: [10, 11, 12, 13, 14, 10, 11], maxNewTokens: 40, numSequences: 1, sampling: GREEDY, seed: 3, stop: [], eosTokenId: EOS,
    budget: { deadline: null, now: Date.now }, ...overrides,
  });
  const alone = (spec: GenerationJob, index = 0) => generateAlone(spec.promptIds, spec.sampling, deriveSeed(spec.seed, index), spec.maxNewTokens, 0, periodic);

  it.each([
    ["greedy", GREEDY],
    ["sampling (a draft is kept when it is the token sampled)", { ...GREEDY, do_sample: true, top_k: 0 }],
  ])("%s: the same tokens as plain decoding, in fewer steps", async (_label, sampling) => {
    const model = fakeModel({ padding: "right", logits: periodic });
    const spec = job({ sampling });
    const result = await fakeScheduler(model, { maxBatchRows: 4, maxWaiting: 4 }, undefined, true).submit(spec);
    expect(result.sequences[0].tokenIds).toEqual(alone(spec));
    expect(result.sequences[0].tokenIds).toHaveLength(40);
    expect(model.calls.some((c) => c.seq > 1 && c.past !== null)).toBe(true); // drafts were verified
    expect(result.steps).toBeLessThan(30); // and many kept: fewer steps than tokens
    expect(Math.max(...model.calls.map((c) => (c.past ? c.seq - 1 : 0)))).toBeLessThanOrEqual(4);
  });

  it("never drafts past max_new_tokens, nor when off, nor for a row sharing its step", async () => {
    const model = fakeModel({ padding: "right", logits: periodic });
    const scheduler = fakeScheduler(model, { maxBatchRows: 4, maxWaiting: 4 }, undefined, true);
    const short = job({ maxNewTokens: 3 });
    expect((await scheduler.submit(short)).sequences[0].tokenIds).toEqual(alone(short));
    expect(model.calls.every((c) => !c.past || c.seq <= 2)).toBe(true); // 1 + at most one draft
    model.calls.length = 0;
    const off = job({ sampling: SAMPLING_DEFAULTS });
    expect((await scheduler.submit(off)).sequences[0].tokenIds).toEqual(alone(off));
    expect(model.calls.every((c) => !c.past || c.seq === 1)).toBe(true);
    model.calls.length = 0;
    const sampled = { ...GREEDY, do_sample: true, top_k: 0 };
    const three = job({ sampling: sampled, numSequences: 3, seed: 8 });
    const result = await scheduler.submit(three);
    result.sequences.forEach((s, i) => expect(s.tokenIds).toEqual(alone(three, i)));
    expect(model.calls.every((c) => !c.past || c.batch === 1 || c.seq === 1)).toBe(true);
  });
});
