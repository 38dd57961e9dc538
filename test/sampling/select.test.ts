import { describe, expect, it } from "vitest";
import { createRng } from "../../src/sampling/rng";
import { argmax, sampleFromLogits } from "../../src/sampling/select";
import { NEG_INF, row } from "./helpers";

describe("argmax", () => {
  it("returns the first maximum on ties, like torch.argmax", () => {
    expect(argmax(row(1, 3, 3, 2))).toBe(1);
    expect(argmax(row(NEG_INF, -5, NEG_INF))).toBe(1);
    expect(argmax(row(NEG_INF, NEG_INF))).toBe(0);
  });

  it("rejects an empty row", () => {
    expect(() => argmax(row())).toThrow(RangeError);
  });
});

describe("sampleFromLogits", () => {
  it.each([
    [0, 0],
    [0.2499, 0],
    [0.25, 1], // a boundary belongs to the next token: cumulative must exceed coin
    [0.5, 2],
    [0.7499, 2],
    [0.75, 3],
    [0.999999, 3],
  ])("uniform row, coin %f -> token %i", (coin, expected) => {
    expect(sampleFromLogits(row(0, 0, 0, 0), coin)).toBe(expected);
  });

  it.each([
    [0, 1],
    [0.4999, 1],
    [0.5, 3],
    [0.999999, 3],
  ])("never picks -Infinity: coin %f -> token %i", (coin, expected) => {
    expect(sampleFromLogits(row(NEG_INF, 0, NEG_INF, 0, NEG_INF), coin)).toBe(expected);
  });

  it("follows the softmax: probabilities 1/4 and 3/4", () => {
    const logits = row(0, Math.log(3));
    expect([0.24, 0.26, 0.9].map((c) => sampleFromLogits(logits, c))).toEqual([0, 1, 1]);
  });

  it("returns the last eligible token if the coin reaches the total (coin >= 1)", () => {
    expect(sampleFromLogits(row(0, 0, NEG_INF), 1)).toBe(1);
    expect(sampleFromLogits(row(0, 0, NEG_INF), 0.999999)).toBe(1);
  });

  it("never picks a token whose probability underflows to 0", () => {
    expect(sampleFromLogits(row(0, -1000), 0.9999999999)).toBe(0);
    expect(sampleFromLogits(row(-1000, 0), 0)).toBe(1);
  });

  it("treats +Infinity logits as sharing all the mass", () => {
    const logits = row(1, Infinity, 2, Infinity);
    expect([0, 0.49, 0.5, 0.99].map((c) => sampleFromLogits(logits, c))).toEqual([1, 1, 3, 3]);
  });

  it("throws when every token is banned", () => {
    expect(() => sampleFromLogits(row(NEG_INF, NEG_INF), 0.5)).toThrow(RangeError);
  });

  it("empirical frequencies match probabilities 0.1 / 0.2 / 0.3 / 0.4", () => {
    const logits = Float32Array.from([0.1, 0.2, 0.3, 0.4], Math.log);
    const random = createRng(1234);
    const counts = [0, 0, 0, 0];
    const draws = 20000;
    for (let i = 0; i < draws; i++) counts[sampleFromLogits(logits, random())]++;
    counts.forEach((c, i) => expect(Math.abs(c / draws - (i + 1) / 10)).toBeLessThan(0.015));
  });
});
