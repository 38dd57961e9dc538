// Small shared helpers for the sampling tests.
import { createRng } from "../../src/sampling/rng";

export const NEG_INF = -Infinity;

/** A float32 logits row from literal values. */
export const row = (...values: number[]): Float32Array => Float32Array.from(values);

/** Plain array copy, so expectations print readably and compare -Infinity exactly. */
export const arr = (values: Float32Array): number[] => Array.from(values);

/** Deterministic pseudo-random logits in [-scale, scale), optionally quantised to create ties. */
export function randomLogits(seed: number, n: number, scale = 8, quantum = 0): Float32Array {
  const r = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = (r() * 2 - 1) * scale;
    out[i] = (quantum > 0 ? Math.round(v / quantum) * quantum : v) + 0; // + 0 turns -0 into 0
  }
  return out;
}

/** Deterministic random token ids in [0, vocab). */
export function randomIds(seed: number, length: number, vocab: number): number[] {
  const r = createRng(seed);
  return Array.from({ length }, () => Math.floor(r() * vocab));
}
