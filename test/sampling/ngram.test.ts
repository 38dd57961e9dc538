import { describe, expect, it } from "vitest";
import { applyNoRepeatNgram, NgramIndex } from "../../src/sampling/ngram";
import { arr, NEG_INF, randomIds } from "./helpers";

/** Indices set to -Infinity after banning on a fresh all-zero row of size `vocab`. */
function bannedBy(apply: (logits: Float32Array) => void, vocab = 8): number[] {
  const logits = new Float32Array(vocab);
  apply(logits);
  return arr(logits).flatMap((v, i) => (v === NEG_INF ? [i] : []));
}

const pure = (context: number[], n: number) => bannedBy((l) => applyNoRepeatNgram(l, context, n));
const indexed = (context: number[], n: number) => bannedBy((l) => new NgramIndex(n, context).apply(l));

describe.each([
  ["applyNoRepeatNgram", pure],
  ["NgramIndex", indexed],
])("%s", (_name, banned) => {
  it("n = 1 bans every token already in the context", () => {
    expect(banned([2, 0, 2], 1)).toEqual([0, 2]);
  });

  it("n = 2 bans what followed the last token, prompt included", () => {
    expect(banned([1, 2, 3, 1], 2)).toEqual([2]);
    expect(banned([1, 2, 1, 3, 1], 2)).toEqual([2, 3]);
  });

  it("n = 3 needs both previous tokens to match", () => {
    const context = [4, 1, 2, 0, 1, 3, 0, 1];
    expect(banned(context, 3)).toEqual([3]); // (0,1)->3 exists; (1)->2 alone is not enough
    expect(banned(context, 2)).toEqual([2, 3]);
  });

  it("handles overlapping repeats", () => {
    expect(banned([7, 7, 7], 2)).toEqual([7]);
    expect(banned([7, 7, 7], 3)).toEqual([7]);
    expect(banned([7, 7], 3)).toEqual([]); // no complete trigram yet
  });

  it("bans nothing while the context is shorter than n - 1, or with no match", () => {
    expect(banned([1], 3)).toEqual([]);
    expect(banned([], 1)).toEqual([]);
    expect(banned([1, 2], 3)).toEqual([]);
    expect(banned([1, 2, 3], 2)).toEqual([]);
  });
});

describe("applyNoRepeatNgram", () => {
  it("0 disables it; invalid n throws", () => {
    expect(pure([1, 1, 1], 0)).toEqual([]);
    expect(() => pure([1], -1)).toThrow(RangeError);
    expect(() => pure([1], 1.5)).toThrow(RangeError);
  });

  it("keeps other logits untouched and -Infinity stays -Infinity", () => {
    const logits = Float32Array.from([0.5, NEG_INF, 2, -3]);
    applyNoRepeatNgram(logits, [1, 2, 1], 2);
    expect(arr(logits)).toEqual([0.5, NEG_INF, NEG_INF, -3]);
  });

  it("throws when a banned token lies outside the vocabulary", () => {
    expect(() => applyNoRepeatNgram(new Float32Array(4), [9], 1)).toThrow(RangeError);
  });
});

describe("NgramIndex", () => {
  it("agrees with the stateless scan after every pushed token", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const n = 1 + (seed % 6);
      const context = randomIds(seed, 150, 2 + (seed % 4)); // tiny vocab: many repeats
      const index = new NgramIndex(n, context.slice(0, 5));
      for (let len = 5; len <= context.length; len++) {
        expect(bannedBy((l) => index.apply(l), 8)).toEqual(pure(context.slice(0, len), n));
        if (len < context.length) index.push(context[len]);
      }
      expect(index.size).toBe(context.length);
    }
  });

  it("rejects n < 1 and negative token ids", () => {
    expect(() => new NgramIndex(0)).toThrow(RangeError);
    expect(() => new NgramIndex(2).push(-1)).toThrow(RangeError);
  });

  it("stays fast on a full 1024-token context", () => {
    const context = randomIds(7, 1024, 50);
    const index = new NgramIndex(3, context);
    const logits = new Float32Array(50257);
    const started = performance.now();
    for (let step = 0; step < 1000; step++) {
      index.apply(logits);
      index.push(step % 50);
    }
    expect(performance.now() - started).toBeLessThan(500); // ~1 ms in practice
  });
});
