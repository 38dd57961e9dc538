import { describe, expect, it } from "vitest";
import type { GenerationJob } from "../../src/engine/scheduler";
import { logSumExp, tokenLogprobs, type TokenLogprobs } from "../../src/engine/logprobs";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { fakeModel, generateWith, referenceLogits } from "./fake-model";

describe("tokenLogprobs", () => {
  it("is the log-softmax of the row, with the top n most likely first", () => {
    const logits = Float32Array.from([1, 3, 2, 3, -1]);
    const z = Math.log(Math.exp(1) + 2 * Math.exp(3) + Math.exp(2) + Math.exp(-1));
    const result = tokenLogprobs(logits, 2, 3);
    expect(result.logprob).toBeCloseTo(2 - z, 12);
    expect(result.top.map((t) => t.tokenId)).toEqual([1, 3, 2]); // tie at 3: lower id first
    expect(result.top[0].logprob).toBeCloseTo(3 - z, 12);
  });

  it("n = 0 gives only the chosen token; n beyond the row gives the whole row", () => {
    const logits = Float32Array.from([0, 1]);
    expect(tokenLogprobs(logits, 0, 0).top).toEqual([]);
    expect(tokenLogprobs(logits, 0, 5).top.map((t) => t.tokenId)).toEqual([1, 0]);
  });

  it("is stable for large logits and handles -Infinity", () => {
    const logits = Float32Array.from([1000, 1000, -Infinity]);
    expect(logSumExp(logits)).toBeCloseTo(1000 + Math.log(2), 9);
    const result = tokenLogprobs(logits, 2, 2);
    expect(result.logprob).toBe(-Infinity);
    for (const t of result.top) expect(t.logprob).toBeCloseTo(-Math.log(2), 9);
  });
});

describe("generate() with logprobs and penalties", () => {
  const base: GenerationJob = {
    promptIds: [464, 2068],
    maxNewTokens: 6,
    numSequences: 1,
    sampling: { ...SAMPLING_DEFAULTS, repetition_penalty: 1.3 },
    seed: 1,
    stop: [],
    eosTokenId: 50256,
    budget: { deadline: null, now: Date.now },
  };

  it("reports the raw model distribution, not the processed one", async () => {
    const seen: { tokenId: number; logprobs: TokenLogprobs }[] = [];
    const result = await generateWith(fakeModel(), {
      ...base,
      logprobs: 2,
      listener: { token: (_i, tokenId, _d, logprobs) => void seen.push({ tokenId, logprobs: logprobs! }), finish: () => {} },
    });
    expect(seen.map((s) => s.tokenId)).toEqual(result.sequences[0].tokenIds);
    const history = [...base.promptIds];
    for (const { tokenId, logprobs } of seen) {
      // The fake model's logits for this history, before repetition_penalty touched them.
      const raw = referenceLogits(history);
      expect(logprobs).toEqual(tokenLogprobs(raw, tokenId, 2));
      history.push(tokenId);
    }
  });

  it("computes nothing when logprobs is not asked for", async () => {
    const args: unknown[][] = [];
    await generateWith(fakeModel(), { ...base, listener: { token: (...a) => void args.push(a), finish: () => {} } });
    expect(args.every((a) => a[3] === undefined)).toBe(true);
  });

  it("logit_bias and penalties change the choice; without them the text is unchanged", async () => {
    const plain = await generateWith(fakeModel(), base);
    const banned = plain.sequences[0].tokenIds[0];
    const biased = await generateWith(fakeModel(), { ...base, penalties: { presence_penalty: 0, frequency_penalty: 0, logit_bias: new Map([[banned, -100]]) } });
    expect(biased.sequences[0].tokenIds[0]).not.toBe(banned);
    const forced = await generateWith(fakeModel(), { ...base, penalties: { presence_penalty: 0, frequency_penalty: 0, logit_bias: new Map([[42, 100]]) } });
    expect(forced.sequences[0].tokenIds).toEqual([42, 42, 42, 42, 42, 42]);
    // The fake model's best logit is 5; 42 sits at -10 + 16 = 6 until it has been generated once,
    // then at 6 - 2 - 2 = 2: it is chosen first and never again.
    const penalised = await generateWith(fakeModel(), { ...base, penalties: { presence_penalty: 2, frequency_penalty: 2, logit_bias: new Map([[42, 16]]) } });
    expect(penalised.sequences[0].tokenIds[0]).toBe(42);
    expect(penalised.sequences[0].tokenIds.filter((t) => t === 42)).toHaveLength(1);
  });
});
