// The cache reshaping helpers, on caches whose values name their (row, head, position, dim) so any
// misplaced copy shows. Tensors are [batch, heads, capacity, headDim].
import { describe, expect, it } from "vitest";
import type { KvCache } from "../../src/engine/forward";
import { appendRightPadded, detachArray, keepFirst, repeatRows, selectRows, shrinkRight, stackPadded, trimLeft } from "../../src/engine/kv";
import { kvLayoutFor } from "../../src/engine/kv-layout";
import { fakeManifest } from "./fake-model";

const HEADS = 2;
const DIM = 3;
const value = (row: number, head: number, pos: number, d: number) => 1000 * (row + 1) + 100 * head + 10 * pos + d + 1;

/** A cache whose row r holds lengths[r] positions at the start of its blocks (right-padded). */
function cache(lengths: number[], capacity = Math.max(...lengths)): KvCache {
  const t = new Float32Array(lengths.length * HEADS * capacity * DIM);
  lengths.forEach((length, row) => {
    for (let h = 0; h < HEADS; h++) for (let p = 0; p < length; p++) for (let d = 0; d < DIM; d++) {
      t[((row * HEADS + h) * capacity + p) * DIM + d] = value(row, h, p, d);
    }
  });
  return { batch: lengths.length, heads: HEADS, length: Math.max(...lengths), capacity, tensors: [t, t.map((v) => -v)] };
}

/** Row `row`'s positions [0, count) of head `head` in tensor 0. */
function positions(kv: KvCache, row: number, head: number, count: number): number[][] {
  const capacity = kv.capacity ?? kv.length;
  return Array.from({ length: count }, (_, p) => Array.from(kv.tensors[0].subarray(((row * kv.heads + head) * capacity + p) * DIM, ((row * kv.heads + head) * capacity + p + 1) * DIM)));
}

const expected = (row: number, head: number, count: number, from = row) =>
  Array.from({ length: count }, (_, p) => Array.from({ length: DIM }, (_, d) => value(from, head, p, d)));

/** One new position per row: [batch, heads, 1, headDim], values tagged 9000+. */
function freshStep(batch: number): Float32Array[] {
  const t = new Float32Array(batch * HEADS * DIM).map((_, i) => 9000 + i);
  return [t, t.map((v) => -v)];
}

describe("KV cache helpers", () => {
  it("appendRightPadded writes each row's new position right after its own data", () => {
    const kv = cache([2, 4]);
    const out = appendRightPadded(kv, freshStep(2), [2, 4], 1, false);
    expect(out.length).toBe(5);
    expect(out.tensors[0]).not.toBe(kv.tensors[0]); // not in place: the input is left as it was
    expect(positions(out, 0, 1, 2)).toEqual(expected(0, 1, 2));
    expect(positions(out, 0, 1, 3)[2]).toEqual([9003, 9004, 9005]); // row 0, head 1, at position 2
    expect(positions(out, 1, 0, 5)[4]).toEqual([9006, 9007, 9008]); // row 1, head 0, at position 4
    expect(positions(out, 0, 0, 5)[4]).toEqual([0, 0, 0]); // row 0's padding stays zero
    expect(Array.from(out.tensors[1].subarray(0, 3))).toEqual([-value(0, 0, 0, 0), -value(0, 0, 0, 1), -value(0, 0, 0, 2)]);
  });

  it("in place, it grows once with headroom and then writes into the same buffers", () => {
    const first = appendRightPadded(cache([3]), freshStep(1), [3], 1, true);
    expect(first.capacity).toBeGreaterThan(first.length);
    const second = appendRightPadded(first, freshStep(1), [4], 1, true);
    expect(second.tensors[0]).toBe(first.tensors[0]);
    expect(second.length).toBe(5);
    expect(positions(second, 0, 0, 5).slice(0, 3)).toEqual(expected(0, 0, 3));
    expect(positions(second, 0, 0, 5).slice(3)).toEqual([[9000, 9001, 9002], [9000, 9001, 9002]]);
  });

  it("given what its rows can reach, it grows to that once (no outgrown buffers left behind), then by headroom past it", () => {
    const first = appendRightPadded(cache([3]), freshStep(1), [3], 1, true, 40);
    expect(first.capacity).toBe(40);
    let kv = first;
    for (let length = 4; length < 40; length++) kv = appendRightPadded(kv, freshStep(1), [length], 1, true, 40);
    expect(kv.tensors[0]).toBe(first.tensors[0]);
    expect(kv.length).toBe(40);
    expect(positions(kv, 0, 1, 3)).toEqual(expected(0, 1, 3));
    const beyond = appendRightPadded(kv, freshStep(1), [40], 1, true, 40); // a reserve too small is no limit
    expect(beyond.length).toBe(41);
    expect(beyond.capacity).toBe(41 + 16);
  });

  it("stacks caches with headroom, compact, on either side", () => {
    const a = shrinkRight(appendRightPadded(cache([2]), freshStep(1), [2], 1, true), 3);
    const b = cache([1]);
    const right = stackPadded(a, b, "right");
    expect(right.capacity ?? right.length).toBe(3);
    expect(positions(right, 0, 1, 2)).toEqual(expected(0, 1, 2));
    expect(positions(right, 1, 1, 3)).toEqual([...expected(0, 1, 1), [0, 0, 0], [0, 0, 0]]);
    const left = stackPadded(a, b, "left");
    expect(positions(left, 1, 0, 3)).toEqual([[0, 0, 0], [0, 0, 0], ...expected(0, 0, 1)]);
  });

  it("selectRows and keepFirst keep the right positions of a cache with headroom", () => {
    const kv = cache([2, 3], 6);
    const second = selectRows(kv, [1]);
    expect(positions(second, 0, 1, 3)).toEqual(expected(1, 1, 3));
    const prefix = keepFirst(kv, 2);
    expect(prefix.capacity ?? prefix.length).toBe(2);
    expect(prefix.tensors[0].length).toBe(2 * HEADS * 2 * DIM);
    expect(positions(prefix, 1, 1, 2)).toEqual(expected(1, 1, 2));
  });
});

describe("caches that name their rows (a sharded model's: no tensors of their own)", () => {
  const named = (ids: string[], length = 4): KvCache => ({ batch: ids.length, heads: HEADS, length, tensors: [], rows: ids.map((id) => ({ id })) });
  const layout = kvLayoutFor({ ...fakeManifest("right"), architecture: { ...fakeManifest().architecture, n_head: HEADS } });

  it("forks, selects, stacks and trims the names as the tensors would move", () => {
    const forked = repeatRows(named(["a", "b"]), 3);
    expect(forked.batch).toBe(6);
    expect(forked.rows).toEqual([
      { id: "a" }, { id: "a.1", copyOf: "a" }, { id: "a.2", copyOf: "a" },
      { id: "b" }, { id: "b.1", copyOf: "b" }, { id: "b.2", copyOf: "b" },
    ]);
    expect(selectRows(forked, [5, 1]).rows).toEqual([{ id: "b.2", copyOf: "b" }, { id: "a.1", copyOf: "a" }]);
    const stacked = stackPadded(named(["x"], 2), named(["y", "z"], 7), "right");
    expect(stacked).toMatchObject({ batch: 3, length: 7, tensors: [], rows: [{ id: "x" }, { id: "y" }, { id: "z" }] });
    expect(trimLeft(stacked, 3).rows).toEqual(stacked.rows);
    expect(keepFirst(stacked, 2).rows).toEqual(stacked.rows);
    expect(layout.trim(stacked, 5)).toMatchObject({ length: 5, rows: stacked.rows });
    expect(() => stackPadded(named(["x"]), cache([4]))).toThrow(/different models/);
  });

  it("a step's names replace the cache's (a fork the forward made is no longer a copy), and it grows by the step", () => {
    const past = repeatRows(named(["a"], 3), 2);
    const next = layout.next(past, { positions: 1, tensors: [], rows: [{ id: "a" }, { id: "a.1" }] }, [3, 3], 1, true);
    expect(next).toMatchObject({ batch: 2, length: 4, tensors: [], rows: [{ id: "a" }, { id: "a.1" }] });
    const first = layout.next(null, { positions: 5, tensors: [], rows: [{ id: "n" }] }, [0], 5, false);
    expect(first).toMatchObject({ batch: 1, length: 5, rows: [{ id: "n" }] });
  });
});

describe("reshaping a cache the caller owns (release)", () => {
  /** Releases in call order, with how many of the old arrays were still whole at each call. */
  const recorder = (old: KvCache) => {
    const calls: number[] = [];
    const release = (t: Float32Array) => {
      calls.push(old.tensors.indexOf(t));
      detachArray(t);
    };
    return { calls, release };
  };
  const copy = (kv: KvCache): KvCache => ({ ...kv, tensors: kv.tensors.map((t) => t.slice()) });

  it("hands each old array over once, in order, as soon as its replacement is built; the result is unchanged", () => {
    const base = cache([3, 1, 2], 5);
    const cases: [string, (kv: KvCache, release: (t: Float32Array) => void) => KvCache][] = [
      ["selectRows", (kv, release) => selectRows(kv, [2, 0], release)],
      ["trimLeft", (kv, release) => trimLeft(kv, 1, release)],
      ["appendRightPadded (outgrown)", (kv, release) => appendRightPadded(kv, kv.tensors.map(() => new Float32Array(3 * HEADS * DIM)), [3, 1, 2], 3, true, 0, release)],
    ];
    for (const [name, reshape] of cases) {
      const plain = reshape(copy(base), () => undefined);
      const owned = copy(base);
      const { calls, release } = recorder(owned);
      const result = reshape(owned, release);
      expect(calls, name).toEqual([0, 1]);
      expect(owned.tensors.every((t) => t.buffer.byteLength === 0), name).toBe(true);
      expect(result.tensors, name).toEqual(plain.tensors);
    }
  });

  it("stacking releases both the running batch's and the newcomer's arrays, tensor by tensor", () => {
    const [running, newcomer] = [cache([3, 2]), cache([1])];
    const plain = stackPadded(copy(running), copy(newcomer), "right");
    const released: Float32Array[] = [];
    const result = stackPadded(running, newcomer, "right", (t) => released.push(t));
    expect(released).toEqual([running.tensors[0], newcomer.tensors[0], running.tensors[1], newcomer.tensors[1]]);
    expect(result.tensors).toEqual(plain.tensors);
  });
});
