// How a model's transformer blocks are split into shards (issue 14): by count (--shards N: blocks
// as even as can be, the extra ones to the later shards, since the first also holds the position
// table), or by memory (--shard-memory MiB: the fewest shards whose every isolate fits).
//
// A shard isolate's memory is estimated as
//   base                 onnxruntime's WebAssembly heap with nothing loaded, the shard's JS heap
//   + weights            int8 matrices 12·E² per block plus fp32 biases, norms, scales (+5% for
//                        the fp32 rows of outlier channels), and the first shard's position table
//   + keys/values        the runtime's own cost model (src/engine/kv-budget.ts kvBytesPerPosition:
//                        per block and position 2·E fp32, times every copy alive in a step), for
//                        the planned positions with the cache's headroom — what the front admits
//                        and each shard isolate checks, so a plan that fits is one they serve
//   + prefill scratch    a prefill step of S positions at the end of the context: GroupQueryAttention's
//                        scores [heads, S, positions] fp32 and the widest activations (the MLP's
//                        S·n_inner, several); onnxruntime's arena keeps its high-water mark
// So the front must prefill long prompts in steps of at most `prefill` positions (default 128):
// a 1,024-token prompt in one step needs ~50 MiB more per GPT-2-124M shard (measured).
// BASE_BYTES is fitted to workerd measurements (README, "Sharded models"; npm run bench:shards);
// the plan is an estimate, the measurement is bench:shards.
import { kvBytesFor, kvBytesPerPosition } from "../../src/engine/kv-budget.js";
import type { Gpt2Config } from "./checkpoint.js";

export type LayerRange = [from: number, to: number];

const MiB = 2 ** 20;
/** onnxruntime-web's heap before any weights (16 MiB) plus the shard Worker's JS heap. */
export const BASE_BYTES = 18 * MiB;
/** What the plan provisions keys/values for: one 1,024-token context, or 8 rows of 128 tokens. */
export const PLAN_POSITIONS = 1024;
/** Activations alive at once besides the scores, in S·n_inner fp32 arrays. */
const ACTIVATION_ARRAYS = 3;
/** Longest prefill step the front sends (positions), unless told otherwise. */
export const PLAN_PREFILL = 128;

export interface PlanOptions {
  /** Positions of keys/values to hold (default PLAN_POSITIONS, capped at n_positions). */
  positions?: number;
  /** Longest prefill step the front sends (default PLAN_PREFILL). */
  prefill?: number;
}

export interface ShardEstimate {
  layers: LayerRange;
  weightsBytes: number;
  kvBytes: number;
  scratchBytes: number;
  totalBytes: number;
}

export function blockWeightBytes(config: Pick<Gpt2Config, "n_embd" | "n_inner">): number {
  const { n_embd: E, n_inner: I } = config;
  const int8 = 3 * E * E + E * E + 2 * E * I;
  const fp32 = 4 * (2 * (3 * E + E + I + E) + 4 * E); // biases + scales, two LayerNorms
  return Math.ceil((int8 + fp32) * 1.05);
}

export function estimateShard(config: Gpt2Config, layers: LayerRange, options: PlanOptions = {}): ShardEstimate {
  const { n_embd: E, n_head: H, n_inner: I } = config;
  const positions = Math.min(options.positions ?? PLAN_POSITIONS, config.n_positions);
  const prefill = Math.min(options.prefill ?? PLAN_PREFILL, positions);
  const blocks = layers[1] - layers[0];
  const weightsBytes = blocks * blockWeightBytes(config) + (layers[0] === 0 ? config.n_positions * E * 4 : 0);
  const kvBytes = kvBytesFor(kvBytesPerPosition(E, blocks), 1, positions);
  const scratchBytes = H * prefill * positions * 4 + ACTIVATION_ARRAYS * prefill * I * 4;
  return { layers, weightsBytes, kvBytes, scratchBytes, totalBytes: BASE_BYTES + weightsBytes + kvBytes + scratchBytes };
}

/** n shards, blocks as even as can be; the extra ones go to the last shards. */
export function evenRanges(nLayer: number, shards: number): LayerRange[] {
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`--shards must be a positive integer, got ${shards}`);
  if (shards > nLayer) throw new Error(`--shards ${shards} is more than the model's ${nLayer} blocks`);
  const ranges: LayerRange[] = [];
  const small = Math.floor(nLayer / shards);
  const extra = nLayer % shards;
  let from = 0;
  for (let i = 0; i < shards; i++) {
    const to = from + small + (i >= shards - extra ? 1 : 0);
    ranges.push([from, to]);
    from = to;
  }
  return ranges;
}

/** The fewest shards whose estimates all fit in `limitBytes`, or an error saying why none do. */
export function planByMemory(config: Gpt2Config, limitBytes: number, options: PlanOptions = {}): LayerRange[] {
  for (let shards = 1; shards <= config.n_layer; shards++) {
    const ranges = evenRanges(config.n_layer, shards);
    if (ranges.every((r) => estimateShard(config, r, options).totalBytes <= limitBytes)) return ranges;
  }
  const one = estimateShard(config, [1, 2], options);
  throw new Error(
    `even one block per shard needs ~${(one.totalBytes / MiB).toFixed(1)} MiB (weights ${(one.weightsBytes / MiB).toFixed(1)}, ` +
      `keys/values ${(one.kvBytes / MiB).toFixed(1)}, prefill scratch ${(one.scratchBytes / MiB).toFixed(1)}), more than ${(limitBytes / MiB).toFixed(0)} MiB: ` +
      `raise --shard-memory or shorten --shard-prefill`,
  );
}
