// The model as the decode loop sees it: one batched forward step. The loop never touches ONNX,
// so it can be tested with a fake model in milliseconds.

/**
 * Keys and values of every layer: [key0, value0, key1, value1, ...], each [batch, heads, capacity,
 * headDim]. `length` positions are in use (the longest row); a cache that grows in place keeps
 * headroom after them (`capacity`, absent = no headroom).
 *
 * A sharded model's keys/values live in its shards (issue 14): its cache has no tensors and only
 * names its rows (`rows`, one per batch row), so the same reshaping below moves names instead of
 * numbers and the scheduler never knows the difference.
 */
export interface KvCache {
  readonly batch: number;
  readonly heads: number;
  readonly length: number;
  readonly capacity?: number;
  readonly tensors: Float32Array[];
  readonly rows?: readonly KvRow[];
}

/** A row's keys/values held elsewhere, by name (the sharded forward picks the names). */
export interface KvRow {
  readonly id: string;
  /** The row is a fork not yet seen by the forward: it starts as a copy of row `copyOf`. */
  readonly copyOf?: string;
}

export interface ForwardInput {
  batch: number;
  /** New tokens per row this step (the prompt length at prefill, 1 after). */
  seq: number;
  /** Row-major [batch, seq]. */
  inputIds: number[];
  /** Row-major [batch, past + seq]: 0 marks padding. */
  attentionMask: number[];
  /** Row-major [batch, seq]. */
  positionIds: number[];
  past: KvCache | null;
  /** Logits wanted for each row's last this-many positions (default 1); more than 1 only where the
   * graph returns every position (ModelSession.returnsEveryPosition): prompt-lookup verification. */
  logitPositions?: number;
  /**
   * At a prefill: what the rows it starts may take (the scheduler admitted that much), positions per
   * row and rows (the prompt's and the copies num_return_sequences makes of it). A model whose
   * keys/values live elsewhere (a sharded one) reserves it there at once.
   */
  reserve?: { positions: number; rows: number };
}

/**
 * Keys/values exactly as the graph returned them, one [batch, heads, positions, headDim] array per
 * layer and kind: the whole cache (`present.*`) or only this step's positions (`new_key_values.*`),
 * as the model's KvLayout says. The layout, not the caller, turns them into the next KvCache.
 */
export interface StepKv {
  positions: number;
  tensors: Float32Array[];
  /** The rows' names, when the keys/values stay where they were computed (a sharded model). */
  rows?: readonly KvRow[];
}

export interface ForwardOutput {
  /** Logits of each row's last position, vocab-sized (empty when `logitPositions` > 1). */
  logits: Float32Array[];
  /** With `logitPositions` = k > 1: the logits of row `row`'s position `i` among its last k (0 =
   * the oldest), computed when first asked — a step verifying drafts mostly needs only the first few. */
  positionLogits?: (row: number, i: number) => Float32Array;
  kv: StepKv;
}

export type Forward = (input: ForwardInput) => Promise<ForwardOutput>;

/**
 * The model cannot take this step now: the memory it needs is held elsewhere (a shard isolate that
 * other front isolates' rows share) and nothing was lost. Rows it would have started wait, as for
 * a full batch; rows that run keep their state and try again.
 */
export class ForwardOverloadedError extends Error {
  override name = "ForwardOverloadedError";
}
