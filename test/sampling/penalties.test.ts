import { describe, expect, it } from "vitest";
import {
  applyLogitBias,
  applyPresenceFrequencyPenalty,
  createPenaltyProcessor,
  NO_PENALTIES,
} from "../../src/sampling/penalties";
import { arr, NEG_INF, row } from "./helpers";

const counts = (entries: [number, number][]) => new Map(entries);

describe("applyPresenceFrequencyPenalty (OpenAI: logit -= count*frequency + (count>0)*presence)", () => {
  it("subtracts presence once and frequency per occurrence", () => {
    const logits = row(1, 2, 3, 4);
    applyPresenceFrequencyPenalty(logits, counts([[1, 1], [3, 3]]), 0.5, 0.25);
    expect(arr(logits)).toEqual([1, 2 - 0.25 - 0.5, 3, 4 - 0.75 - 0.5]);
  });

  it("negative values reward repetition", () => {
    const logits = row(0, 0);
    applyPresenceFrequencyPenalty(logits, counts([[0, 2]]), -1, -0.5);
    expect(arr(logits)).toEqual([2, 0]);
  });

  it("tokens never generated, zero counts and zero penalties change nothing", () => {
    const logits = row(1, 2, 3);
    applyPresenceFrequencyPenalty(logits, counts([[0, 0]]), 2, 2);
    applyPresenceFrequencyPenalty(logits, counts([[1, 5]]), 0, 0);
    expect(arr(logits)).toEqual([1, 2, 3]);
  });

  it("-Infinity stays -Infinity", () => {
    const logits = row(NEG_INF, 1);
    applyPresenceFrequencyPenalty(logits, counts([[0, 1]]), 1, 1);
    expect(logits[0]).toBe(NEG_INF);
  });

  it("rejects ids outside the row", () => {
    expect(() => applyPresenceFrequencyPenalty(row(1, 2), counts([[2, 1]]), 1, 0)).toThrow(RangeError);
  });
});

describe("applyLogitBias", () => {
  it("adds each bias to its token", () => {
    const logits = row(1, 1, 1);
    applyLogitBias(logits, new Map([[0, -100], [2, 3.5]]));
    expect(arr(logits)).toEqual([-99, 1, 4.5]);
  });
});

describe("createPenaltyProcessor", () => {
  it("is null when everything is disabled", () => {
    expect(createPenaltyProcessor(NO_PENALTIES)).toBeNull();
  });

  it("counts accepted tokens and applies bias and penalties together", () => {
    const processor = createPenaltyProcessor({ presence_penalty: 1, frequency_penalty: 0.5, logit_bias: new Map([[3, 2]]) })!;
    const first = row(0, 0, 0, 0);
    processor.apply(first);
    expect(arr(first)).toEqual([0, 0, 0, 2]);
    processor.accept(1);
    processor.accept(1);
    processor.accept(2);
    const next = row(0, 0, 0, 0);
    processor.apply(next);
    expect(arr(next)).toEqual([0, -2, -1.5, 2]);
  });

  it("a penalty turns the greedy choice away from a repeated token", () => {
    const processor = createPenaltyProcessor({ presence_penalty: 0, frequency_penalty: 0.6, logit_bias: new Map() })!;
    const logits = () => row(3, 2);
    const picks: number[] = [];
    for (let step = 0; step < 4; step++) {
      const current = logits();
      processor.apply(current);
      const pick = current[0] >= current[1] ? 0 : 1;
      processor.accept(pick);
      picks.push(pick);
    }
    // 3 - 0.6*count(0) vs 2 - 0.6*count(1): 0, then 0 (2.4 ≥ 2), then 1 (1.8 < 2), then 0 (1.8 ≥ 1.4).
    expect(picks).toEqual([0, 0, 1, 0]);
  });
});
