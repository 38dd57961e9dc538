import { describe, expect, it } from "vitest";
import { applyTemperature, applyTopK, applyTopP, kthLargest } from "../../src/sampling/warpers";
import { arr, NEG_INF, randomLogits, row } from "./helpers";

const ln = Math.log;

/**
 * Straightforward HF TopPLogitsWarper: full stable ascending sort, softmax, cumsum. Like the
 * implementation it accumulates unnormalised weights and compares with threshold * total, so
 * exact ties (weights of 1) hit an exact boundary instead of float-summed probabilities.
 */
function referenceTopP(logits: Float32Array, p: number): number[] {
  const ids = [...logits.keys()].sort((a, b) => logits[a] - logits[b] || a - b);
  const max = Math.max(...logits);
  const w = ids.map((i) => (logits[i] === NEG_INF ? 0 : Math.exp(logits[i] - max)));
  const total = w.reduce((s, x) => s + x, 0);
  const out = arr(logits);
  let cum = 0;
  for (let j = 0; j < ids.length - 1; j++) {
    cum += w[j];
    if (cum <= Math.fround(1 - p) * total) out[ids[j]] = NEG_INF;
  }
  return out;
}

describe("applyTemperature", () => {
  it("divides every logit; -Infinity stays", () => {
    const a = row(1, -2, 0.5, NEG_INF);
    applyTemperature(a, 2);
    const b = row(1, -2, 0.5, NEG_INF);
    applyTemperature(b, 0.5);
    expect([arr(a), arr(b)]).toEqual([
      [0.5, -1, 0.25, NEG_INF],
      [2, -4, 1, NEG_INF],
    ]);
  });

  it("1.0 disables it", () => {
    const a = row(1.1, -2.3);
    applyTemperature(a, 1);
    expect(arr(a)).toEqual(arr(row(1.1, -2.3)));
  });

  it("divides by float32(temperature) like PyTorch", () => {
    const a = row(1.001953125);
    applyTemperature(a, 0.7);
    expect(a[0]).toBe(1.4313616752624512); // double-precision 0.7 would give 1.4313615560531616
  });

  it("rejects temperature <= 0", () => {
    expect(() => applyTemperature(row(1), 0)).toThrow(RangeError);
    expect(() => applyTemperature(row(1), -1)).toThrow(RangeError);
  });
});

describe("applyTopK", () => {
  it("keeps the k largest", () => {
    const a = row(1, 4, 2, 3, 0);
    applyTopK(a, 2);
    expect(arr(a)).toEqual([NEG_INF, 4, NEG_INF, 3, NEG_INF]);
  });

  it("keeps every tie at the k-th value (more than k survive)", () => {
    const a = row(1, 3, 3, 2, 3);
    applyTopK(a, 2);
    const b = row(5, 3, 3, 2);
    applyTopK(b, 2);
    expect([arr(a), arr(b)]).toEqual([
      [NEG_INF, 3, 3, NEG_INF, 3],
      [5, 3, 3, NEG_INF],
    ]);
  });

  it("k = 1 keeps the max", () => {
    const a = row(1, 4, 2, 3);
    applyTopK(a, 1);
    expect(arr(a)).toEqual([NEG_INF, 4, NEG_INF, NEG_INF]);
  });

  it("0 disables it and k >= vocab keeps everything", () => {
    for (const k of [0, 4, 100]) {
      const a = row(1, 4, 2, 3);
      applyTopK(a, k);
      expect(arr(a)).toEqual([1, 4, 2, 3]);
    }
  });

  it("removes nothing when the k-th largest is already -Infinity", () => {
    const a = row(NEG_INF, 1, NEG_INF, 2);
    applyTopK(a, 3);
    expect(arr(a)).toEqual([NEG_INF, 1, NEG_INF, 2]);
  });

  it("rejects negative or fractional k", () => {
    expect(() => applyTopK(row(1, 2), -1)).toThrow(RangeError);
    expect(() => applyTopK(row(1, 2), 1.5)).toThrow(RangeError);
  });

  it("kthLargest matches a full sort on random rows with duplicates", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const values = randomLogits(seed, 1 + (seed % 97), 4, seed % 2 ? 0.5 : 0);
      const sorted = arr(values).sort((x, y) => y - x);
      const k = 1 + (seed * 7919) % values.length;
      expect(kthLargest(values, k)).toBe(sorted[k - 1]);
    }
  });
});

describe("applyTopP", () => {
  it("keeps exactly the minimal high-probability set", () => {
    // probabilities 0.1, 0.4, 0.2, 0.3: 0.65 needs {0.4, 0.3}; 0.75 needs {0.4, 0.3, 0.2}
    const probs = [0.1, 0.4, 0.2, 0.3];
    const a = Float32Array.from(probs, ln);
    applyTopP(a, 0.65);
    const b = Float32Array.from(probs, ln);
    applyTopP(b, 0.75);
    const l = arr(Float32Array.from(probs, ln));
    expect(arr(a)).toEqual([NEG_INF, l[1], NEG_INF, l[3]]);
    expect(arr(b)).toEqual([NEG_INF, l[1], l[2], l[3]]);
  });

  it("cumulative mass exactly 1 - top_p is removed; ties go lower index first", () => {
    // four equal logits: cumsum 0.25, 0.5, 0.75, 1 (exact in binary)
    const a = row(0, 0, 0, 0);
    applyTopP(a, 0.5); // removes cumsum <= 0.5: the first two in stable order
    const b = row(0, 0, 0, 0);
    applyTopP(b, 0.75); // removes cumsum <= 0.25
    const c = row(0, 0, 0, 0);
    applyTopP(c, 0.76); // 0.25 > 0.24: nothing removed
    expect([arr(a), arr(b), arr(c)]).toEqual([
      [NEG_INF, NEG_INF, 0, 0],
      [NEG_INF, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });

  it("splits a large tie group exactly at the boundary, lower indices removed first", () => {
    // 256 equal tokens: cumulative sums are exact multiples of 1/256, so the token whose
    // cumulative equals 1 - top_p is removed and the next one kept (past the sort cutoff).
    // 127/256 makes the first quickselect pivot (the middle token) the last one removed.
    for (const p of [0.5, 0.25, 0.75, 0.125, 0.875, 127 / 256]) {
      const a = new Float32Array(256);
      applyTopP(a, p);
      const removed = 256 * (1 - p);
      expect(arr(a)).toEqual(Array.from({ length: 256 }, (_, i) => (i < removed ? NEG_INF : 0)));
    }
  });

  it("compares against float32(1 - top_p) like PyTorch", () => {
    // ten equal tokens, p = 0.9: 1 - 0.9 = 0.09999999999999998 in double but 0.1f in float32,
    // so the first token's cumulative 0.1 counts as <= threshold and is removed (as in HF).
    const a = new Float32Array(10);
    applyTopP(a, 0.9);
    expect(arr(a)).toEqual([NEG_INF, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("a tiny top_p keeps only the max (one tie winner: the highest index)", () => {
    const a = row(1, 3, 2, 0);
    applyTopP(a, 1e-9);
    const b = row(3, 1, 3);
    applyTopP(b, 1e-12);
    expect([arr(a), arr(b)]).toEqual([
      [NEG_INF, 3, NEG_INF, NEG_INF],
      [NEG_INF, NEG_INF, 3],
    ]);
  });

  it("keeps one token even when float32(1 - top_p) rounds to 1 and all tokens tie", () => {
    const a = row(0, 0, 0);
    applyTopP(a, 1e-10); // Math.fround(1 - 1e-10) === 1: every cumulative sum is <= threshold
    expect(arr(a)).toEqual([NEG_INF, NEG_INF, 0]);
  });

  it("ignores -Infinity inputs (probability 0)", () => {
    const a = row(NEG_INF, 0, 0, NEG_INF, 0, 0);
    applyTopP(a, 0.5);
    expect(arr(a)).toEqual([NEG_INF, NEG_INF, NEG_INF, NEG_INF, 0, 0]);
  });

  it("1.0 disables it; an all -Infinity row is left alone", () => {
    const a = row(1, 2, 3);
    applyTopP(a, 1);
    const b = row(NEG_INF, NEG_INF);
    applyTopP(b, 0.5);
    expect([arr(a), arr(b)]).toEqual([
      [1, 2, 3],
      [NEG_INF, NEG_INF],
    ]);
  });

  it("rejects top_p <= 0", () => {
    expect(() => applyTopP(row(1), 0)).toThrow(RangeError);
  });

  it("matches a full-sort reference on random rows (with and without top_k first)", () => {
    // Flat rows (small scale) leave thousands of candidates for the quickselect; quantised
    // rows create large tie groups that must be split in index order.
    for (let seed = 1; seed <= 150; seed++) {
      const scale = [0.5, 2, 6][seed % 3];
      const values = randomLogits(seed, 3000, scale, seed % 4 === 0 ? 0.25 : seed % 4 === 1 ? 0.01 : 0);
      if (seed % 2 === 0) applyTopK(values, 1 + (seed % 80));
      const p = [0.05, 0.3, 0.5, 0.8, 0.9, 0.95, 0.99][seed % 7];
      const expected = referenceTopP(values, p);
      applyTopP(values, p);
      expect(arr(values)).toEqual(expected);
    }
  });
});
