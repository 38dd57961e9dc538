import { describe, expect, it } from "vitest";
import { batchInterrupt, findStop, stopHoldback } from "../../src/engine/stopping";

describe("findStop", () => {
  it.each([
    ["hello world", 0, ["wor"], 6],
    ["hello world", 8, ["wor"], 6], // a match that started before the fresh text still counts
    ["hello world", 11, ["wor"], -1], // ...but one entirely in old text was already checked
    ["abcabc", 0, ["c", "b"], 1], // the earliest of several
    ["abc", 0, ["x"], -1],
  ] as const)("%j from %i with %j → %i", (text, fresh, stops, expected) => {
    expect(findStop(text, fresh, stops)).toBe(expected);
  });
});

describe("stopHoldback", () => {
  it.each([
    ["hello wo", ["world"], 2],
    ["hello w", ["world", "w!"], 1],
    ["hello", ["world"], 0],
    ["aaa", ["aab"], 2],
    ["x", [], 0],
  ] as const)("%j with %j holds back %i", (text, stops, expected) => {
    expect(stopHoldback(text, stops)).toBe(expected);
  });
});

describe("batchInterrupt", () => {
  it("cancellation wins over the deadline; no budget means no interrupt", () => {
    const aborted = AbortSignal.abort();
    expect(batchInterrupt({ deadline: 0, now: () => 10, signal: aborted })).toBe("cancelled");
    expect(batchInterrupt({ deadline: 5, now: () => 10 })).toBe("time");
    expect(batchInterrupt({ deadline: 50, now: () => 10 })).toBeNull();
    expect(batchInterrupt({ deadline: null, now: () => 10 })).toBeNull();
  });
});
