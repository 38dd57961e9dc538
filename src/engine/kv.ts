// Reshaping the batch's keys/values when sequences join, leave or fork, and growing it by a step's
// new positions. Tensors are [batch, heads, capacity, headDim], row-major. Rows shorter than the
// longest are padded in the length axis with zeros — on the left or on the right, as the model's
// graph expects (KvPadding) — and the padding is masked out by attention_mask.
import type { KvPadding } from "../model/manifest";
import type { KvCache, KvRow } from "./forward";

/**
 * Called with each of the old cache's arrays as soon as its replacement is built, when the caller
 * owns the old cache (e.g. `detachArray`): a reshaped cache and the one it replaces are then never
 * both held whole — one array of the old at most, not the whole copy the KV budget would count.
 */
export type Release = (old: Float32Array) => void;

/** The `rows` field of a cache whose rows are named (none for one that holds its tensors). */
const named = (rows: readonly KvRow[] | undefined) => (rows ? { rows } : {});

/** Positions per (row, head) block of the tensors. */
export const capacityOf = (kv: KvCache): number => kv.capacity ?? kv.length;

const headDimOf = (kv: KvCache, t: Float32Array): number => t.length / (kv.batch * kv.heads * capacityOf(kv));

/**
 * Repeat every row n times, e.g. one prefilled prompt → num_return_sequences rows. Named rows get
 * names of their own, `<id>.<k>` (unique while ids are and a row is forked once), each marked as
 * a copy of its source until the forward has made it.
 */
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
  const rows = kv.rows?.flatMap((row) => [row, ...Array.from({ length: n - 1 }, (_, k): KvRow => ({ id: `${row.id}.${k + 1}`, copyOf: row.copyOf ?? row.id }))]);
  return { ...kv, batch: kv.batch * n, tensors, ...named(rows) };
}

/** Keep only the given rows, in the given order. */
export function selectRows(kv: KvCache, rows: readonly number[], release?: Release): KvCache {
  if (rows.length === kv.batch && rows.every((r, i) => r === i)) return kv;
  const tensors = kv.tensors.map((t) => {
    const rowSize = t.length / kv.batch;
    const out = new Float32Array(rowSize * rows.length);
    rows.forEach((row, i) => out.set(t.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
    release?.(t);
    return out;
  });
  return { ...kv, batch: rows.length, tensors, ...named(kv.rows && rows.map((row) => kv.rows![row])) };
}

/**
 * Stack two batches into one of length max(a, b), without headroom: the shorter one's rows get
 * zero keys/values on the given side (the caller masks them out).
 */
export function stackPadded(a: KvCache, b: KvCache, side: KvPadding = "left", release?: Release): KvCache {
  if (a.heads !== b.heads || a.tensors.length !== b.tensors.length || !a.rows !== !b.rows) throw new Error("cannot stack caches of different models");
  if (a.length === 0 || b.length === 0) throw new Error("cannot stack an empty cache");
  const length = Math.max(a.length, b.length);
  const tensors = a.tensors.map((ta, i) => {
    const headDim = headDimOf(a, ta);
    const out = new Float32Array((a.batch + b.batch) * a.heads * length * headDim);
    copyBlocks(ta, a, out, 0, length, side === "left" ? length - a.length : 0, headDim);
    copyBlocks(b.tensors[i], b, out, a.batch, length, side === "left" ? length - b.length : 0, headDim);
    release?.(ta);
    release?.(b.tensors[i]);
    return out;
  });
  return { batch: a.batch + b.batch, heads: a.heads, length, tensors, ...named(a.rows && [...a.rows, ...b.rows!]) };
}

/** Copy the used positions of every (row, head) block of `from` into `out` (blocks of `capacity`
 * positions), starting at row `firstRow` and position `offset`. */
function copyBlocks(src: Float32Array, from: KvCache, out: Float32Array, firstRow: number, capacity: number, offset: number, headDim: number): void {
  const stride = capacityOf(from) * headDim;
  const used = from.length * headDim;
  for (let rh = 0; rh < from.batch * from.heads; rh++) {
    out.set(src.subarray(rh * stride, rh * stride + used), ((firstRow * from.heads + rh) * capacity + offset) * headDim);
  }
}

/** Drop the first `k` positions of every row (padding that no row needs any more). */
export function trimLeft(kv: KvCache, k: number, release?: Release): KvCache {
  if (k <= 0) return kv;
  const length = kv.length - k;
  const tensors = kv.tensors.map((t) => {
    const headDim = headDimOf(kv, t);
    const stride = capacityOf(kv) * headDim;
    const out = new Float32Array(kv.batch * kv.heads * length * headDim);
    for (let rh = 0; rh < kv.batch * kv.heads; rh++) {
      out.set(t.subarray(rh * stride + k * headDim, rh * stride + kv.length * headDim), rh * length * headDim);
    }
    release?.(t);
    return out;
  });
  return { batch: kv.batch, heads: kv.heads, length, tensors, ...named(kv.rows) };
}

/** Only the first `length` positions of every row, always in new compact arrays (a prefix-cache
 * entry and what a hit hands out never share a buffer). */
export function keepFirst(kv: KvCache, length: number): KvCache {
  const kept = Math.min(length, kv.length);
  const tensors = kv.tensors.map((t) => {
    const out = new Float32Array(kv.batch * kv.heads * kept * headDimOf(kv, t));
    copyBlocks(t, { ...kv, length: kept }, out, 0, kept, 0, headDimOf(kv, t));
    return out;
  });
  return { batch: kv.batch, heads: kv.heads, length: kept, tensors, ...named(kv.rows) };
}

/**
 * Right padding no row needs any more, dropped without copying: the positions stay as headroom.
 * Only for a batch's own cache. The headroom may hold rejected prompt-lookup drafts' keys/values:
 * nothing reads past a row's length (stacking copies used positions only), and the next step
 * writes over them.
 */
export function shrinkRight(kv: KvCache, length: number): KvCache {
  return length >= kv.length ? kv : { ...kv, length, capacity: capacityOf(kv) };
}

/**
 * A step's new keys/values (`fresh`, one [batch, heads, seq, headDim] array per tensor) written
 * right after each row's own data — row r's at position rowLengths[r], GroupQueryAttention's
 * right-padded layout. Into `past`'s own buffers when `inPlace` and they have room; otherwise into
 * new ones, with headroom to grow into when `inPlace` (a batch that will take more steps): up to
 * `reserve` positions at once when given (the most its rows can reach), else an eighth more; the
 * outgrown arrays go to `release` one by one as they are copied.
 */
export function appendRightPadded(kv: KvCache, fresh: Float32Array[], rowLengths: readonly number[], seq: number, inPlace: boolean, reserve = 0, release?: Release): KvCache {
  const batch = rowLengths.length;
  if (batch !== kv.batch || fresh.length !== kv.tensors.length) throw new Error("new keys/values do not match the cache");
  const length = Math.max(kv.length, ...rowLengths.map((l) => l + seq));
  const oldCapacity = capacityOf(kv);
  let capacity = oldCapacity;
  let tensors = kv.tensors;
  if (!inPlace || length > oldCapacity) {
    capacity = !inPlace ? length : reserve >= length ? reserve : length + Math.max(16, length >> 3);
    tensors = kv.tensors.map((t) => {
      const headDim = headDimOf(kv, t);
      const out = new Float32Array(kv.batch * kv.heads * capacity * headDim);
      copyBlocks(t, kv, out, 0, capacity, 0, headDim);
      release?.(t);
      return out;
    });
  }
  tensors.forEach((t, i) => {
    const src = fresh[i];
    const headDim = src.length / (batch * kv.heads * seq);
    for (let row = 0; row < batch; row++) {
      for (let h = 0; h < kv.heads; h++) {
        const rh = row * kv.heads + h;
        t.set(src.subarray(rh * seq * headDim, (rh + 1) * seq * headDim), (rh * capacity + rowLengths[row]) * headDim);
      }
    }
  });
  return { batch, heads: kv.heads, length, capacity, tensors, ...named(kv.rows) };
}

/** Bytes held by a cache's tensors (headroom included). */
export function kvBytes(kv: KvCache): number {
  return kv.tensors.reduce((sum, t) => sum + t.byteLength, 0);
}

/**
 * Gives arrays' memory back now: each buffer is detached (emptied) instead of waiting for a garbage
 * collection, which in workerd leaves dropped caches counted against the isolate (tens of MiB at
 * GPT-2 size). Buffers that `keep` still uses, views into a larger buffer, and buffers already
 * detached are left alone. Only for arrays nothing else references.
 */
export function detachBuffers(arrays: readonly Float32Array[], keep: readonly Float32Array[] = []): void {
  const kept = new Set(keep.map((t) => t.buffer));
  for (const t of arrays) if (!kept.has(t.buffer)) detachArray(t);
}

/** Detaches one array's buffer when the array spans all of it (see detachBuffers). */
export function detachArray(t: Float32Array): void {
  if (t.byteOffset !== 0 || t.byteLength !== t.buffer.byteLength || t.buffer.byteLength === 0) return;
  const buffer = t.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  // (transfer where the runtime has it, workerd; a transferring clone detaches it elsewhere, Node 20)
  if (buffer.transfer) buffer.transfer(0);
  else structuredClone(buffer, { transfer: [buffer] });
}
