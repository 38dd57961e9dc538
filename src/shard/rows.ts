// Keys/values of one row, and moving rows between their own storage and a batch. Between steps a
// row's keys/values live either in the running batch (right-padded [batch, heads, capacity,
// headDim] tensors that grow in place, src/engine/kv.ts) or, when the batch changed without it, on
// their own as a compact batch of one. A batch is assembled when the rows of a step differ from the
// last step's, and split back into rows when they change again; a step with the same rows as the
// last (a decode step, the common case) runs on the batch as it is.
import type { KvCache } from "../engine/forward";
import { capacityOf, detachArray, detachBuffers } from "../engine/kv";

/** A row's keys/values: a compact batch of one ([1, heads, length, headDim] per block and kind). */
export type RowKv = KvCache;

export interface Shape {
  heads: number;
  headDim: number;
  /** Tensors per row: 2 per block (key, value). */
  tensors: number;
}

/** Positions [0, length) of batch row `index` of one tensor, as a row's tensor [heads, length, headDim]. */
function copyRow(t: Float32Array, index: number, length: number, capacity: number, { heads, headDim }: Shape): Float32Array {
  const out = new Float32Array(heads * length * headDim);
  for (let h = 0; h < heads; h++) {
    const start = (index * heads + h) * capacity * headDim;
    out.set(t.subarray(start, start + length * headDim), h * length * headDim);
  }
  return out;
}

/** The first `length` positions of batch row `row`, copied into a row of its own. */
export function takeRow(batch: KvCache, row: number, length: number, shape: Shape): RowKv {
  return { batch: 1, heads: shape.heads, length, tensors: batch.tensors.map((t) => copyRow(t, row, length, capacityOf(batch), shape)) };
}

/**
 * A batch taken apart into rows of their own (the rows listed; the others are dropped), one tensor
 * at a time, each of the batch's tensors detached once copied: the batch and its rows are never
 * both held whole. The batch is unusable afterwards.
 */
export function splitRows(batch: KvCache, rows: ReadonlyArray<{ index: number; length: number }>, shape: Shape): RowKv[] {
  const split = rows.map(({ length }) => ({ batch: 1, heads: shape.heads, length, tensors: [] as Float32Array[] }));
  for (const t of batch.tensors) {
    rows.forEach(({ index, length }, k) => split[k].tensors.push(copyRow(t, index, length, capacityOf(batch), shape)));
    detachArray(t);
  }
  return split;
}

/** The first `length` positions of a row (a row that is re-sent with a shorter past). */
export function truncateRow(kv: RowKv, length: number, shape: Shape): RowKv {
  return length >= kv.length ? kv : takeRow(kv, 0, length, shape);
}

/**
 * Rows stacked into one right-padded batch of `length` positions (the longest row's), zeros
 * after each shorter row's data; `null` is a row with nothing yet (a prefill). Built one tensor at a
 * time; the rows' arrays that `freeable` allows are detached as soon as they are copied, so the rows
 * and the batch are never both held whole.
 */
export function assembleBatch(rows: readonly (RowKv | null)[], shape: Shape, freeable: (t: Float32Array) => boolean = () => false): KvCache {
  const { heads, headDim } = shape;
  const length = Math.max(0, ...rows.map((r) => r?.length ?? 0));
  const tensors = Array.from({ length: shape.tensors }, (_, i) => {
    const out = new Float32Array(rows.length * heads * length * headDim);
    rows.forEach((row, b) => {
      if (!row || row.length === 0) return;
      const src = row.tensors[i];
      for (let h = 0; h < heads; h++) {
        out.set(src.subarray(h * row.length * headDim, (h + 1) * row.length * headDim), ((b * heads + h) * length) * headDim);
      }
    });
    // (after every row: one row may be the source of several, copyOf)
    for (const src of new Set(rows.map((row) => row?.tensors[i]))) if (src && freeable(src)) detachArray(src);
    return out;
  });
  return { batch: rows.length, heads, length, tensors };
}

/** Gives a cache's memory back now, but for the buffers `keep` still uses (engine/kv.ts detachBuffers). */
export function discard(kv: { tensors: Float32Array[] } | null | undefined, keep: readonly Float32Array[] = []): void {
  detachBuffers(kv?.tensors ?? [], keep);
}
