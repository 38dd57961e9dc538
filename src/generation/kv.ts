// Reshaping the batch's keys/values when sequences join, leave or fork. Tensors are
// [batch, heads, length, headDim], row-major. Rows shorter than the longest are padded in the
// length axis with zeros — on the left or on the right, as the model's graph expects (KvPadding) —
// and the padding is masked out by attention_mask, so every row shares one length.
import type { KvPadding } from "../model/manifest";
import type { KvCache } from "./forward";

/** Repeat every row n times, e.g. one prefilled prompt → num_return_sequences rows. */
export function repeatRows(kv: KvCache, n: number): KvCache {
  if (n === 1) return kv;
  const tensors = kv.tensors.map((t) => {
    const rowSize = t.length / kv.batch;
    const out = new Float32Array(t.length * n);
    for (let row = 0; row < kv.batch; row++) {
      const src = t.subarray(row * rowSize, (row + 1) * rowSize);
      for (let k = 0; k < n; k++) out.set(src, (row * n + k) * rowSize);
    }
    return out;
  });
  return { ...kv, batch: kv.batch * n, tensors };
}

/** Keep only the given rows, in the given order. */
export function selectRows(kv: KvCache, rows: readonly number[]): KvCache {
  if (rows.length === kv.batch && rows.every((r, i) => r === i)) return kv;
  const tensors = kv.tensors.map((t) => {
    const rowSize = t.length / kv.batch;
    const out = new Float32Array(rowSize * rows.length);
    rows.forEach((row, i) => out.set(t.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
    return out;
  });
  return { ...kv, batch: rows.length, tensors };
}

/**
 * Stack two batches into one of length max(a, b): the shorter one's rows get zero keys/values on
 * the given side (the caller masks them out). Returns the merged cache and each part's padding.
 */
export function stackPadded(a: KvCache, b: KvCache, side: KvPadding = "left"): { kv: KvCache; padA: number; padB: number } {
  if (a.heads !== b.heads || a.tensors.length !== b.tensors.length) throw new Error("cannot stack caches of different models");
  if (a.length === 0 || b.length === 0) throw new Error("cannot stack an empty cache");
  const length = Math.max(a.length, b.length);
  const tensors = a.tensors.map((ta, i) => {
    const headDim = ta.length / (a.batch * a.heads * a.length);
    const out = new Float32Array((a.batch + b.batch) * a.heads * length * headDim);
    copyPadded(ta, a, out, 0, length, headDim, side);
    copyPadded(b.tensors[i], b, out, a.batch, length, headDim, side);
    return out;
  });
  return { kv: { batch: a.batch + b.batch, heads: a.heads, length, tensors }, padA: length - a.length, padB: length - b.length };
}

function copyPadded(src: Float32Array, from: KvCache, out: Float32Array, firstRow: number, length: number, headDim: number, side: KvPadding): void {
  const pad = side === "left" ? length - from.length : 0;
  const block = from.length * headDim; // one (row, head) slice
  for (let rh = 0; rh < from.batch * from.heads; rh++) {
    const dst = (firstRow * from.heads + rh) * length * headDim + pad * headDim;
    out.set(src.subarray(rh * block, (rh + 1) * block), dst);
  }
}

/** Drop the first `k` positions of every row (padding that no row needs any more). */
export function trimLeft(kv: KvCache, k: number): KvCache {
  if (k <= 0) return kv;
  const length = kv.length - k;
  const tensors = kv.tensors.map((t) => {
    const headDim = t.length / (kv.batch * kv.heads * kv.length);
    const out = new Float32Array(kv.batch * kv.heads * length * headDim);
    for (let rh = 0; rh < kv.batch * kv.heads; rh++) {
      const start = (rh * kv.length + k) * headDim;
      out.set(t.subarray(start, start + length * headDim), rh * length * headDim);
    }
    return out;
  });
  return { ...kv, length, tensors };
}

/** Keep only the first `length` positions of every row (a cached prompt's shared prefix, or
 * right padding no row needs any more). */
export function keepFirst(kv: KvCache, length: number): KvCache {
  if (length >= kv.length) return kv;
  const tensors = kv.tensors.map((t) => {
    const headDim = t.length / (kv.batch * kv.heads * kv.length);
    const out = new Float32Array(kv.batch * kv.heads * length * headDim);
    for (let rh = 0; rh < kv.batch * kv.heads; rh++) {
      out.set(t.subarray(rh * kv.length * headDim, (rh * kv.length + length) * headDim), rh * length * headDim);
    }
    return out;
  });
  return { ...kv, length, tensors };
}

/** Bytes held by a cache's tensors. */
export function kvBytes(kv: KvCache): number {
  return kv.tensors.reduce((sum, t) => sum + t.byteLength, 0);
}
