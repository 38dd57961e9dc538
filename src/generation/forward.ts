// The model as the decode loop sees it: one batched forward step. The loop never touches ONNX,
// so it can be tested with a fake model in milliseconds.

/** Keys and values of every layer: [key0, value0, key1, value1, ...], each [batch, heads, length, headDim]. */
export interface KvCache {
  readonly batch: number;
  readonly length: number;
  readonly tensors: Float32Array[];
}

export interface ForwardInput {
  batch: number;
  /** New tokens per row this step (the prompt length at prefill, 1 after). */
  seq: number;
  /** Row-major [batch, seq]. */
  inputIds: number[];
  /** Row-major [batch, past + seq]: 0 marks left padding. */
  attentionMask: number[];
  /** Row-major [batch, seq]. */
  positionIds: number[];
  past: KvCache | null;
}

export interface ForwardOutput {
  /** Logits of each row's last position, vocab-sized. */
  logits: Float32Array[];
  present: KvCache;
}

export type Forward = (input: ForwardInput) => Promise<ForwardOutput>;

/** Repeat every row n times (row-major), e.g. one prefilled prompt → num_return_sequences rows. */
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
  return { batch: kv.batch * n, length: kv.length, tensors };
}

/** Keep only the given rows (finished sequences leave the batch so they cost nothing). */
export function selectRows(kv: KvCache, rows: number[]): KvCache {
  if (rows.length === kv.batch && rows.every((r, i) => r === i)) return kv;
  const tensors = kv.tensors.map((t) => {
    const rowSize = t.length / kv.batch;
    const out = new Float32Array(rowSize * rows.length);
    rows.forEach((row, i) => out.set(t.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
    return out;
  });
  return { batch: rows.length, length: kv.length, tensors };
}
