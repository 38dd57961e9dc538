// What the front engine and a shard say to each other (issue 14). A shard is a Durable Object in a
// Worker script of its own (so an isolate of its own) holding a contiguous range of transformer
// blocks and, for every row in flight, those blocks' keys/values. The front keeps the tokenizer,
// the embedding / LM-head kernel, sampling, caches and the scheduler; for each batched step it
// sends the hidden states through the shards in order and gets the final hidden state back.
//
// Rows are named, not numbered: the front picks an id per sequence row (unique for the front's
// life), and a shard keeps each row's keys/values under it. A shard that lost a row (evicted,
// restarted, a fresh instance) says so with ShardStateLost instead of computing from a wrong past;
// the front then re-prefills that row from its tokens. Hidden states cross as exact fp32, so a
// sharded model's token ids are those of the same model unsharded.

/** One row of a step, in batch order. */
export interface ShardRow {
  /** The front's name for this row's keys/values. */
  id: string;
  /** Positions of this row the shard must already hold (0 = none: a prefill from the start). */
  past: number;
  /**
   * The row starts as a copy of another row's keys/values (several sequences from one prompt);
   * `past` is then the source row's length. The source row stays as it is.
   */
  copyOf?: string;
  /**
   * Positions this row may reach (prompt and every token it may generate): the shard charges the
   * row that many from its first step, so a row it took is never refused room to grow. Absent: the
   * positions it holds.
   */
  reach?: number;
  /** Rows still to be made from this one (copyOf) in later steps, charged with it from now. */
  forks?: number;
}

export interface ShardStepRequest {
  rows: ShardRow[];
  /** New positions per row this step: the prompt (or its uncached part) at prefill, 1 when decoding. */
  seq: number;
  /**
   * Row-major [rows, seq, n_embd] fp32: token embeddings for the first shard (it adds the position
   * embedding), the previous shard's output after it.
   */
  hidden: Float32Array;
  /** Row-major [rows, seq]: each new position's absolute position (row.past + i). */
  positionIds: number[];
  /** Rows to forget before this step (they left the batch); unknown ids are ignored. */
  release: string[];
  /** Return only each row's last position (the last shard's output feeds the LM head). */
  lastOnly: boolean;
}

export interface ShardStepResult {
  /** Row-major [rows, positions, n_embd] fp32, positions = lastOnly ? 1 : seq. The last shard's is after ln_f. */
  hidden: Float32Array;
  positions: number;
}

export interface ShardStatus {
  index: number;
  /** Transformer blocks [from, to) this shard holds. */
  layers: [number, number];
  /** Rows whose keys/values it holds now, and how many positions in all. */
  rows: number;
  positions: number;
  /** WebAssembly memory (onnxruntime's heap) and keys/values held in JS, bytes. */
  wasmBytes: number;
  kvBytes: number;
  loadMs: number;
  /** This shard's isolate as a whole: every Durable Object instance it runs (src/shard/memory.ts). */
  isolate: ShardIsolateStatus;
}

/**
 * Durable Object instances of one class may share an isolate: each front isolate's instance of a
 * shard then holds keys/values in the same 128 MB. The shard counts them isolate-wide.
 */
export interface ShardIsolateStatus {
  /** Instances in this isolate that hold rows now (or are admitting their first). */
  instances: number;
  /** Rows held across them, and keys/values held in JS, bytes. */
  rows: number;
  kvBytes: number;
  /** What they are charged (kv-budget.ts's cost model: every copy, each row's reach), and the limit. */
  chargedBytes: number;
  /** null: ISOLATE_MEMORY_BYTES = 0, no byte limit. */
  budgetBytes: number | null;
  /** Steps refused since the isolate started (ShardOverloaded). */
  refusals: number;
}

/** What the front calls on a shard (Durable Object RPC). */
export interface ShardApi {
  step(request: ShardStepRequest): Promise<ShardStepResult>;
  /** Forget rows (a request ended between steps). */
  release(ids: string[]): Promise<void>;
  status(): Promise<ShardStatus>;
}

/** The error's name crosses Durable Object RPC as the start of its message: "ShardStateLost: …". */
export const SHARD_STATE_LOST = "ShardStateLost";

/** The shard does not hold a row's past (it was evicted or restarted): re-prefill the rows named. */
export class ShardStateLost extends Error {
  override name = SHARD_STATE_LOST;
  constructor(readonly rowIds: string[], detail = "") {
    super(`${SHARD_STATE_LOST}: shard holds no keys/values for row(s) ${rowIds.join(", ")}${detail ? ` (${detail})` : ""}`);
  }
}

/** Whether an error that crossed RPC (only its message survives) is a ShardStateLost. */
export const isShardStateLost = (error: unknown): boolean => isNamed(error, SHARD_STATE_LOST);

export const SHARD_OVERLOADED = "ShardOverloaded";

/**
 * The step would take the shard's isolate past its keys/values budget (other instances in the same
 * isolate hold the rest). Refused before anything was allocated or changed: the rows it holds are
 * intact. Not a lost shard: the front waits for room as for a full batch, it rebuilds nothing.
 */
export class ShardOverloaded extends Error {
  override name = SHARD_OVERLOADED;
  constructor(detail: string) {
    super(`${SHARD_OVERLOADED}: ${detail}`);
  }
}

export const isShardOverloaded = (error: unknown): boolean => isNamed(error, SHARD_OVERLOADED);

const isNamed = (error: unknown, name: string): boolean => error instanceof Error && (error.name === name || error.message.startsWith(`${name}:`));
