import { describe, expect, it, vi } from "vitest";
import { createTokenChooser } from "../../src/sampling/chooser";
import {
  applyMinNewTokens,
  applyNoRepeatNgram,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
} from "../../src/sampling/processors";
import { createRng } from "../../src/sampling/rng";
import { argmax, sampleFromLogits } from "../../src/sampling/select";
import { SAMPLING_DEFAULTS, type SamplingSettings } from "../../src/sampling/settings";
import { arr, NEG_INF, randomIds, randomLogits, row } from "./helpers";

const greedy = (over: Partial<SamplingSettings> = {}): SamplingSettings => ({ ...SAMPLING_DEFAULTS, ...over });
const sampling = (over: Partial<SamplingSettings> = {}): SamplingSettings => ({ ...SAMPLING_DEFAULTS, do_sample: true, ...over });
const noRandom = () => {
  throw new Error("random() must not be called");
};
const chooser = (settings: SamplingSettings, promptIds: number[] = [], random: () => number = noRandom, eosTokenIds = [4]) =>
  createTokenChooser(settings, { eosTokenIds, promptIds, random });

/** Runs next(), returns [token, processed row]. */
function step(c: ReturnType<typeof chooser>, values: number[]): [number, number[]] {
  const logits = row(...values);
  const id = c.next(logits);
  return [id, arr(logits)];
}

describe("createTokenChooser: greedy", () => {
  it("never draws a random number and ignores the sampling warpers", () => {
    const c = chooser(greedy({ temperature: 0.5, top_k: 1, top_p: 0.1 }));
    for (let i = 0; i < 3; i++) {
      expect(step(c, [1, 3, 2, 0, -1])).toEqual([1, [1, 3, 2, 0, -1]]);
      c.accept(1);
    }
  });

  it("repetition penalty covers prompt and generated tokens, once per distinct token", () => {
    const c = chooser(greedy({ repetition_penalty: 2 }), [0, 0]);
    expect(step(c, [2, 1.5, 0, 0, 0])).toEqual([1, [1, 1.5, 0, 0, 0]]);
    c.accept(1);
    expect(step(c, [2, 1.5, 0, 0, 0])).toEqual([0, [1, 0.75, 0, 0, 0]]);
  });

  it("no_repeat_ngram spans the prompt/generation boundary", () => {
    const c = chooser(greedy({ no_repeat_ngram_size: 2 }), [1, 2, 3, 1]);
    expect(step(c, [0, 0, 10, 5, 0])).toEqual([3, [0, 0, NEG_INF, 5, 0]]); // (1,2) seen
    c.accept(3);
    expect(step(c, [0, 10, 5, 0, 0])).toEqual([2, [0, NEG_INF, 5, 0, 0]]); // (3,1) seen
  });

  it("min_new_tokens bans every eos id until enough tokens were accepted", () => {
    const c = chooser(greedy({ min_new_tokens: 2 }), [], noRandom, [3, 4]);
    for (let i = 0; i < 2; i++) {
      expect(step(c, [0, 1, 0, 9, 8])).toEqual([1, [0, 1, 0, NEG_INF, NEG_INF]]);
      c.accept(1);
    }
    expect(step(c, [0, 1, 0, 9, 8])[0]).toBe(3);
    expect(c.newTokenCount).toBe(2);
  });
});

describe("createTokenChooser: sampling", () => {
  it("draws exactly one random number per step", () => {
    const random = vi.fn(() => 0.5);
    const c = chooser(sampling({ top_k: 0 }), [], random);
    expect(step(c, [0, 0, 0, 0, 0])[0]).toBe(2);
    c.accept(2);
    step(c, [0, 0, 0, 0, 0]);
    expect(random).toHaveBeenCalledTimes(2);
  });

  it("HF default top_k = 50 is active when sampling", () => {
    const c = chooser(sampling(), [], () => 0);
    const values = Array.from({ length: 60 }, (_, i) => i); // token i has logit i
    const [id, processed] = step(c, values);
    expect(id).toBe(10); // the lowest of the 50 survivors
    expect(processed.filter((v) => v !== NEG_INF)).toHaveLength(50);
  });

  it("temperature runs before top_p (it changes which tokens the nucleus keeps)", () => {
    const hot = step(chooser(sampling({ temperature: 10, top_k: 0, top_p: 0.7 }), [], () => 0), [0, 1, 2, 3]);
    const cold = step(chooser(sampling({ top_k: 0, top_p: 0.7 }), [], () => 0), [0, 1, 2, 3]);
    expect(hot[1]).toEqual([NEG_INF, ...arr(row(0.1, 0.2, 0.3))]);
    expect(cold[1]).toEqual([NEG_INF, NEG_INF, 2, 3]);
  });

  it("top_k runs before top_p (top_p sees the renormalised survivors)", () => {
    // probs 0.1/0.2/0.3/0.4; top_k 2 leaves 3/7 and 4/7, so top_p 0.5 keeps only the 0.4 token.
    // (top_p first would keep {0.3, 0.4}.)
    const c = chooser(sampling({ top_k: 2, top_p: 0.5 }), [], () => 0);
    const logits = Float32Array.from([0.1, 0.2, 0.3, 0.4], Math.log);
    expect(c.next(logits)).toBe(3);
    expect(arr(logits).slice(0, 3)).toEqual([NEG_INF, NEG_INF, NEG_INF]);
  });

  it("penalties run before top_k (banned or penalised tokens free up top-k slots)", () => {
    const banned = step(chooser(sampling({ top_k: 2, no_repeat_ngram_size: 1 }), [0], () => 0), [5, 4, 3, 2]);
    expect(banned[1]).toEqual([NEG_INF, 4, 3, NEG_INF]);
    const penalised = step(chooser(sampling({ top_k: 2, repetition_penalty: 4 }), [0], () => 0), [3, 2.5, 1, 0]);
    expect(penalised[1]).toEqual([NEG_INF, 2.5, 1, NEG_INF]);
  });

  it("matches the stateless processors composed in HF order on a 50257-token vocabulary", () => {
    const settings = sampling({ temperature: 0.8, top_k: 40, top_p: 0.9, repetition_penalty: 1.3, no_repeat_ngram_size: 3 });
    const prompt = randomIds(11, 200, 20); // small id range: plenty of repeats and n-gram hits
    const eos = [50256, 7];
    const coins = createRng(99);
    const c = createTokenChooser({ ...settings, min_new_tokens: 5 }, { eosTokenIds: eos, promptIds: prompt, random: coins });
    const expectedCoins = createRng(99);
    const context = [...prompt];
    let ngramBans = 0;
    for (let s = 0; s < 40; s++) {
      const logits = randomLogits(1000 + s, 50257, 6);
      for (let i = 0; i < 20; i++) logits[i] += 6; // make the repeated ids competitive
      const expected = logits.slice();
      applyRepetitionPenalty(expected, context, settings.repetition_penalty);
      applyNoRepeatNgram(expected, context, settings.no_repeat_ngram_size);
      ngramBans += arr(expected).filter((v) => v === NEG_INF).length;
      applyMinNewTokens(expected, s, 5, eos);
      applyTemperature(expected, settings.temperature);
      applyTopK(expected, settings.top_k);
      applyTopP(expected, settings.top_p);
      const expectedId = sampleFromLogits(expected, expectedCoins());
      const id = c.next(logits);
      expect(id).toBe(expectedId);
      expect(arr(logits)).toEqual(arr(expected));
      c.accept(id);
      context.push(id);
    }
    expect(ngramBans).toBeGreaterThan(10); // the scenario really exercises n-gram blocking
  });

  it("same seed reproduces the same tokens", () => {
    const run = (seed: number) => {
      const c = chooser(sampling({ top_k: 0 }), [], createRng(seed));
      return Array.from({ length: 20 }, (_, s) => {
        const id = c.next(randomLogits(s, 50, 1));
        c.accept(id);
        return id;
      });
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });
});

describe("createTokenChooser: protocol", () => {
  it("requires accept(id) of exactly the chosen token between next() calls", () => {
    const c = chooser(greedy());
    expect(() => c.accept(1)).toThrow(/without a preceding next/);
    expect(step(c, [0, 5, 0, 0, 0])[0]).toBe(1);
    expect(() => step(c, [0, 5, 0, 0, 0])).toThrow(/accept\(1\) must be called/);
    expect(() => c.accept(2)).toThrow(/does not match/);
    c.accept(1);
    expect(() => c.accept(1)).toThrow(/without a preceding next/);
    expect(c.newTokenCount).toBe(1);
  });

  it("rejects invalid settings, out-of-vocab prompt ids and changing row sizes", () => {
    expect(() => chooser(sampling({ temperature: 0 }))).toThrow(/temperature must be/);
    expect(() => chooser(greedy(), [9]).next(new Float32Array(5))).toThrow(RangeError);
    const c = chooser(greedy());
    c.accept(c.next(new Float32Array(5)));
    expect(() => c.next(new Float32Array(6))).toThrow(RangeError);
  });

  it("copies settings: later edits by the caller do not affect it", () => {
    const settings = greedy({ repetition_penalty: 2 });
    const c = chooser(settings, [0]);
    settings.repetition_penalty = 1;
    expect(step(c, [2, 1.5, 0, 0, 0])[0]).toBe(1);
  });
});
