// Where a batch's keys/values sit, chosen once per model from its manifest. Rows of different
// lengths share one cache tensor, so shorter rows are padded; the graph decides on which side:
// - "left-padded" (Optimum / transformers.js exports, our --attention mha graphs): a row's data ends
//   at the last position, the graph returns the whole cache (`present.*`) every step.
// - "right-padded-append" (our GroupQueryAttention graphs): a row's data starts at position 0 and
//   the graph returns only the step's own positions (`new_key_values.*`), which are written right
//   after each row's data, in place where the cache has headroom. A row's numbers are then exactly
//   those of the same request alone.
// Everything in the engine that depends on the side asks the layout; nothing else branches on it.
import type { ModelManifest } from "../model/manifest";
import type { KvCache, StepKv } from "./forward";
import { appendRightPadded, shrinkRight, stackPadded, trimLeft, type Release } from "./kv";

export interface KvLayout {
  readonly name: "left-padded" | "right-padded-append";
  /** The graph output that carries a layer's keys or values. */
  outputName(layer: number, kind: "key" | "value"): string;
  /** The running batch with a newcomer's rows stacked under it (one common length); both given
   * to `release` array by array once copied (kv.ts Release). */
  stack(running: KvCache, newcomer: KvCache, release?: Release): KvCache;
  /** Padding beyond the longest remaining row's `longest` positions dropped. */
  trim(kv: KvCache, longest: number, release?: Release): KvCache;
  /** Appends one row's attention mask: its `length` used positions among `kvLength`, then `seq` new ones. */
  pushMask(mask: number[], length: number, kvLength: number, seq: number): void;
  /**
   * The cache after a step, from what the graph returned. `rowLengths` are the rows' used positions
   * before the step; `growInPlace`: the caller never reads `past` again (the batch's own cache, not
   * a prefix-cache entry), so its headroom may be written; `reserve`: positions the batch can still
   * reach, to grow to at once rather than in steps (each step leaves the outgrown arrays as garbage);
   * `release`: where outgrown arrays go once copied.
   */
  next(past: KvCache | null, step: StepKv, rowLengths: readonly number[], seq: number, growInPlace: boolean, reserve?: number, release?: Release): KvCache;
}

export function kvLayoutFor(manifest: ModelManifest): KvLayout {
  const heads = manifest.architecture.n_head;
  return manifest.io.kv_padding === "right" ? rightPaddedAppend(heads) : leftPadded(heads);
}

function leftPadded(heads: number): KvLayout {
  return {
    name: "left-padded",
    outputName: (layer, kind) => `present.${layer}.${kind}`,
    stack: (running, newcomer, release) => stackPadded(running, newcomer, "left", release),
    trim: (kv, longest, release) => trimLeft(kv, kv.length - longest, release),
    pushMask(mask, length, kvLength, seq) {
      for (let i = 0; i < kvLength; i++) mask.push(i >= kvLength - length ? 1 : 0);
      for (let i = 0; i < seq; i++) mask.push(1);
    },
    // The graph concatenated past and new positions itself.
    next: (_past, step, rowLengths) => named({ batch: rowLengths.length, heads, length: step.positions, tensors: step.tensors }, step),
  };
}

function rightPaddedAppend(heads: number): KvLayout {
  return {
    name: "right-padded-append",
    outputName: (layer, kind) => `new_key_values.${layer}.${kind}`,
    stack: (running, newcomer, release) => stackPadded(running, newcomer, "right", release),
    trim: (kv, longest) => shrinkRight(kv, longest),
    pushMask(mask, length, kvLength, seq) {
      for (let i = 0; i < kvLength; i++) mask.push(i < length ? 1 : 0);
      for (let i = 0; i < seq; i++) mask.push(1); // written right after the row's data
    },
    next(past, step, rowLengths, seq, growInPlace, reserve, release) {
      if (!past) return named({ batch: rowLengths.length, heads, length: step.positions, tensors: step.tensors }, step);
      return named(appendRightPadded(past, step.tensors, rowLengths, seq, growInPlace, reserve, release), step);
    },
  };
}

/** The cache with the step's row names, when the forward named them (the rows' forks now made). */
const named = (kv: KvCache, step: StepKv): KvCache => (step.rows ? { ...kv, rows: step.rows } : kv);
