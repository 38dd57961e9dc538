// The model as the decode loop sees it: one batched forward step. The loop never touches ONNX,
// so it can be tested with a fake model in milliseconds.

/**
 * Keys and values of every layer: [key0, value0, key1, value1, ...], each [batch, heads, capacity,
 * headDim]. `length` positions are in use (the longest row); a cache that grows in place keeps
 * headroom after them (`capacity`, absent = no headroom).
 */
export interface KvCache {
  readonly batch: number;
  readonly heads: number;
  readonly length: number;
  readonly capacity?: number;
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
  /** The caller will not read `past` again: the session may write this step's positions into its
   * headroom and return the same buffers as `present`. Headroom only comes from an earlier step
   * with reusePast, so a cache shared with anything else (the prefix cache) is never written. */
  reusePast?: boolean;
}

export interface ForwardOutput {
  /** Logits of each row's last position, vocab-sized. */
  logits: Float32Array[];
  present: KvCache;
}

export type Forward = (input: ForwardInput) => Promise<ForwardOutput>;
