import { describe, expect, it } from "vitest";
import { applyMinNewTokens, applyRepetitionPenalty, applyRepetitionPenaltyToDistinct } from "../../src/sampling/processors";
import { arr, NEG_INF, row } from "./helpers";

describe("applyRepetitionPenalty", () => {
  it("divides positive and multiplies negative logits of context tokens", () => {
    const logits = row(2, -2, 0.5, -1, 3);
    applyRepetitionPenalty(logits, [0, 1, 4], 2);
    expect(arr(logits)).toEqual([1, -4, 0.5, -1, 1.5]);
  });

  it("penalises each distinct token once however often it occurs", () => {
    const logits = row(2, -2, 0.5, -1, 3);
    applyRepetitionPenalty(logits, [0, 1, 0, 1, 0, 4], 2);
    expect(arr(logits)).toEqual([1, -4, 0.5, -1, 1.5]);
  });

  it("leaves 0 at 0 and -Infinity at -Infinity", () => {
    const logits = row(0, NEG_INF, 1);
    applyRepetitionPenalty(logits, [0, 1], 3);
    expect(arr(logits)).toEqual([0, NEG_INF, 1]);
  });

  it("penalty < 1 rewards repetition (HF allows it)", () => {
    const logits = row(2, -2, 1);
    applyRepetitionPenalty(logits, [0, 1], 0.5);
    expect(arr(logits)).toEqual([4, -1, 1]);
  });

  it("penalty 1.0 is a no-op", () => {
    const logits = row(2, -2, 1);
    applyRepetitionPenalty(logits, [0, 1, 2], 1);
    expect(arr(logits)).toEqual([2, -2, 1]);
  });

  it("computes in float32 like PyTorch: the penalty is Math.fround(1.2)", () => {
    // 1.0009765625 / 1.2 rounds differently when 1.2 is kept in double precision.
    const logits = row(1.0009765625, -1.001953125);
    applyRepetitionPenalty(logits, [0, 1], 1.2);
    expect(logits[0]).toBe(0.8341470956802368);
    expect(logits[1]).toBe(-1.2023438215255737);
  });

  it("works again on the next call (dedup state is per call)", () => {
    const logits = row(4, 4);
    applyRepetitionPenalty(logits, [0], 2);
    applyRepetitionPenalty(logits, [0, 1], 2);
    expect(arr(logits)).toEqual([1, 2]);
  });

  it("rejects token ids outside the vocabulary", () => {
    expect(() => applyRepetitionPenalty(row(1, 2), [2], 2)).toThrow(RangeError);
    expect(() => applyRepetitionPenalty(row(1, 2), [-1], 2)).toThrow(RangeError);
  });

  it("ToDistinct variant matches on an already-distinct list, honouring count", () => {
    const logits = row(2, -2, 0.5, -1, 3);
    applyRepetitionPenaltyToDistinct(logits, Int32Array.from([4, 1, 0, 2]), 2, 2);
    expect(arr(logits)).toEqual([2, -4, 0.5, -1, 1.5]);
  });
});

describe("applyMinNewTokens", () => {
  it("bans every eos id while fewer than min_new_tokens were generated", () => {
    for (const count of [0, 1]) {
      const logits = row(1, 2, 3, 4, 5);
      applyMinNewTokens(logits, count, 2, [4, 2]);
      expect(arr(logits)).toEqual([1, 2, NEG_INF, 4, NEG_INF]);
    }
  });

  it("allows eos once min_new_tokens is reached", () => {
    const logits = row(1, 2, 3, 4, 5);
    applyMinNewTokens(logits, 2, 2, [4, 2]);
    expect(arr(logits)).toEqual([1, 2, 3, 4, 5]);
  });

  it("0 disables it; no eos ids means nothing to ban", () => {
    const a = row(1, 2, 3);
    applyMinNewTokens(a, 0, 0, [2]);
    const b = row(1, 2, 3);
    applyMinNewTokens(b, 0, 5, []);
    expect([arr(a), arr(b)]).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it("rejects eos ids outside the vocabulary", () => {
    expect(() => applyMinNewTokens(row(1, 2), 0, 1, [2])).toThrow(RangeError);
  });
});
