// Keys and values admitted by bytes, not rows. A Workers isolate has 128 MB for everything (JS
// heap, ArrayBuffers, WebAssembly memory); the weights and onnxruntime take what the WASM heap
// holds after loading, the JS side needs a reserve, and what is left is the KV budget. A row of
// `n` positions costs n × bytesPerPosition: every layer's key and value, fp32, times the copies
// that exist at once during a step. Two in WASM: the past onnxruntime copies in, and the present
// GroupQueryAttention (or the graph's Concat) computes from it. In JS, the batch's cache — once
// for right-padded graphs, which return only the step's new positions, written into the cache's
// headroom: rows joining, leaving or outgrowing it get new arrays, but each old array is detached
// as soon as its replacement is copied (kv.ts Release), so the old cache and the new are never
// both held whole. Left-padded graphs return a whole new present every step, copied out of WASM
// while the old is still the step's input: two JS copies. So three copies, or four — plus, in an
// unsharded isolate, one copy's worth of heap for a whole prompt's prefill (PREFILL_SLACK_COPIES).
// The prefix cache takes its share of the same budget. This is the one cost model of keys/values:
// the unsharded budget, a sharded front's, each shard isolate's own check (src/shard/memory.ts)
// and the converter's shard plan (tools/convert/shard-plan.ts) all count with kvBytesPerPosition.
import type { KvPadding, ModelManifest } from "../model/manifest";

export interface MemoryLimits {
  /** The isolate's memory limit (Workers: 128 MB on every plan). */
  isolateBytes: number;
  /** Kept free for the JS heap (code, tokenizer tables, requests, responses). */
  jsReserveBytes: number;
  /** The most the prefix cache may take (it gets at most a quarter of the KV budget). */
  prefixCacheBytes: number;
}

export interface KvBudget {
  /** Bytes per row and position, all copies counted. */
  bytesPerPosition: number;
  /** For the running batch's keys/values. */
  batchBytes: number;
  /** The part of batchBytes that lives in ORT's WASM heap (every copy but the JS one). */
  wasmBytes: number;
  /** For the prefix cache (JS only: one copy). */
  prefixCacheBytes: number;
  /** What the budget was computed from, for /v1/info. */
  isolateBytes: number;
  modelBytes: number;
  jsReserveBytes: number;
}

/** Copies of a step's keys/values alive at once, by the graph's padding (see the header); two are in WASM. */
export const kvCopies = (padding: KvPadding): number => (padding === "right" ? 3 : 4);
const WASM_COPIES = 2;

/** The part of a batch budget that lives in onnxruntime's heap: its two copies and any prefill slack, of all `copies`. */
const wasmShare = (batchBytes: number, copies: number, slack: number): number => Math.floor((batchBytes * (WASM_COPIES + slack)) / copies);

/** A batch cache that grows in place keeps headroom (kv.ts appendRightPadded): an eighth, at least 16. */
export const withHeadroom = (positions: number) => positions + Math.max(16, positions >> 3);

/** Bytes one position of one row costs an isolate running `blocks` blocks `width` wide: each
 * block's key and value, fp32, times every copy alive during a step (a shard's graphs, and ours
 * by default, are right-padded). */
export const kvBytesPerPosition = (width: number, blocks: number, copies = kvCopies("right")): number => blocks * 2 * width * 4 * copies;

/**
 * An unsharded isolate prefills a whole prompt in one step: onnxruntime's heap needs room beyond
 * its two copies for that step's scratch (attention scores, the MLP's activations) and for
 * fragmentation. One more copy's worth is budgeted and planned into the heap. Measured (distilgpt2,
 * mixed traffic) without it: the heap outgrew its plan by emscripten's last 5% (125.1 MiB at peak);
 * with it the isolate stays ≤ 115 MiB. Shards prefill in steps of at most 128 positions, and their
 * plan counts that scratch itself (tools/convert/shard-plan.ts).
 */
const PREFILL_SLACK_COPIES = 1;

/** What `rows` rows that may each reach `positions` positions cost: padded to the longest, headroom counted. */
export const kvBytesFor = (bytesPerPosition: number, rows: number, positions: number): number => rows * withHeadroom(positions) * bytesPerPosition;

/** What an isolate of `isolateBytes` leaves for keys/values once its model (WASM) and the JS reserve are counted. */
export const kvBytesLeft = (isolateBytes: number, modelBytes: number, jsReserveBytes: number): number => Math.max(0, isolateBytes - modelBytes - jsReserveBytes);

export function kvBudget(manifest: ModelManifest, modelBytes: number, limits: MemoryLimits, wholePrompts = true): KvBudget {
  const arch = manifest.architecture;
  const slack = wholePrompts ? PREFILL_SLACK_COPIES : 0;
  const copies = kvCopies(manifest.io.kv_padding ?? "left") + slack;
  const total = kvBytesLeft(limits.isolateBytes, modelBytes, limits.jsReserveBytes);
  const prefixCacheBytes = Math.min(limits.prefixCacheBytes, Math.floor(total / 4));
  return {
    bytesPerPosition: kvBytesPerPosition(arch.n_embd, arch.n_layer, copies),
    batchBytes: total - prefixCacheBytes,
    wasmBytes: wasmShare(total - prefixCacheBytes, copies, slack),
    prefixCacheBytes,
    isolateBytes: limits.isolateBytes,
    modelBytes,
    jsReserveBytes: limits.jsReserveBytes,
  };
}

/** The request can never run here, even alone: more keys/values than the whole batch budget. */
export class KvBudgetError extends Error {
  override name = "KvBudgetError";
  constructor(message: string, readonly field: "max_new_tokens" | "num_return_sequences") {
    super(message);
  }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Most positions one row can reach running alone (its cache's headroom counted). */
export function longestAlone(budget: KvBudget): number {
  let positions = Math.floor(budget.batchBytes / budget.bytesPerPosition);
  while (positions > 0 && withHeadroom(positions) * budget.bytesPerPosition > budget.batchBytes) positions--;
  return positions;
}

/** Throws KvBudgetError when `rows` rows of `positions` positions can never fit. */
export function checkFits(budget: KvBudget, rows: number, positions: number): void {
  const need = kvBytesFor(budget.bytesPerPosition, rows, positions);
  if (need <= budget.batchBytes) return;
  const alone = longestAlone(budget);
  throw new KvBudgetError(
    `this request needs ${mib(need)} MiB of keys/values (${rows} sequence(s) × ${positions} tokens, prompt included, and the cache's headroom), ` +
      `more than this deployment's ${mib(budget.batchBytes)} MiB budget (${alone} tokens for one sequence alone); ` +
      `lower ${rows > 1 ? "num_return_sequences or " : ""}max_new_tokens`,
    rows > 1 && positions <= alone ? "num_return_sequences" : "max_new_tokens",
  );
}

/**
 * A sharded model's budget (issue 14): each shard's isolate has the same memory, less its measured
 * WebAssembly memory (`modelBytes`: weights and runtime; the files' size before that is known) and
 * the JS reserve, for its own blocks' keys/values — right-padded, as every shard's are. The shard
 * that admits the fewest positions bounds the batch. No prefix cache. A shard that reports its own
 * budget (`budgetBytes`: what it will admit, from its own ISOLATE_MEMORY_BYTES) is never counted for
 * more than that, so the front never admits rows a shard would refuse while it is this front's alone
 * (a refusal makes a request wait, and one that can never fit would wait out its time budget).
 * Durable Object instances of one class may share an isolate, and the shard then refuses what
 * would take the isolate past its budget (src/shard/memory.ts). `limits.isolateBytes` 0 and no shard
 * reporting a budget: no budget (null).
 */
export function shardedKvBudget(manifest: ModelManifest, shards: readonly ShardMemory[], limits: Omit<MemoryLimits, "prefixCacheBytes">): KvBudget | null {
  const budgets = shards.flatMap(({ layers, modelBytes, budgetBytes }) => {
    const blocks = { ...manifest, io: { ...manifest.io, kv_padding: "right" as const }, architecture: { ...manifest.architecture, n_layer: layers[1] - layers[0] } };
    const own = typeof budgetBytes === "number" ? budgetBytes : null;
    if (limits.isolateBytes <= 0 && own === null) return [];
    const budget = kvBudget(blocks, modelBytes, { ...limits, prefixCacheBytes: 0 }, false);
    if (own === null) return [budget];
    const batchBytes = limits.isolateBytes > 0 ? Math.min(budget.batchBytes, own) : own;
    return [{ ...budget, batchBytes, wasmBytes: wasmShare(batchBytes, kvCopies("right"), 0) }];
  });
  const positions = (b: KvBudget) => b.batchBytes / b.bytesPerPosition;
  return budgets.length === 0 ? null : budgets.reduce((tightest, b) => (positions(b) < positions(tightest) ? b : tightest));
}

/** What the front knows of one shard's memory: its blocks, its WebAssembly memory after load, and
 * the keys/values budget it reports for its isolate (null or absent: it sets no limit). */
export interface ShardMemory {
  layers: readonly [number, number];
  modelBytes: number;
  budgetBytes?: number | null;
}
