// Token selection from a processed logits row: greedy argmax, or inverse-CDF sampling from
// the softmax with a caller-supplied uniform number (so the RNG stays seedable and testable).

/** Reused per-token weight buffer; grown to the vocab size once (workers are single-threaded). */
let weightScratch = new Float64Array(0);

/** Returns a float64 scratch buffer of at least `n` entries, shared by this module's callers. */
export function scratchWeights(n: number): Float64Array {
  if (weightScratch.length < n) weightScratch = new Float64Array(n);
  return weightScratch;
}

/**
 * Unnormalised softmax weights exp(logit - max) in float64 into `out`; returns their sum
 * (0 when no token is eligible). Subtracting the max keeps exp() from overflowing.
 * -Infinity (banned) gets weight 0. A +Infinity logit (e.g. a huge logit divided by a tiny
 * temperature overflowed float32) would make every weight NaN; we treat it as the limit
 * instead: the +Infinity tokens share all the mass equally. NaN logits get weight 0.
 */
export function softmaxWeights(logits: Float32Array, out: Float64Array): number {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  let total = 0;
  if (max === -Infinity) {
    out.fill(0, 0, n);
    return 0;
  }
  if (max === Infinity) {
    for (let i = 0; i < n; i++) {
      const w = logits[i] === Infinity ? 1 : 0;
      out[i] = w;
      total += w;
    }
    return total;
  }
  for (let i = 0; i < n; i++) {
    const v = logits[i];
    // Skipping exp for banned tokens matters after top_k, when almost all are -Infinity;
    // the comparison is also false for NaN, which thereby gets weight 0.
    const w = v > -Infinity ? Math.exp(v - max) : 0;
    out[i] = w;
    total += w;
  }
  return total;
}

/**
 * Index of the largest logit; the first one on ties, like torch.argmax (HF greedy search).
 * An all -Infinity row returns 0, as torch does.
 */
export function argmax(logits: ArrayLike<number>): number {
  const n = logits.length;
  if (n === 0) throw new RangeError("argmax of an empty logits row");
  let best = 0;
  let bestValue = logits[0];
  for (let i = 1; i < n; i++) {
    const v = logits[i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * Draws a token from softmax(logits) by inverse CDF: the smallest index whose cumulative
 * weight exceeds coin * total. `coin` must be uniform in [0, 1).
 *
 * - Only tokens with positive weight can be chosen, so a -Infinity logit never is (nor one
 *   whose probability underflows to 0 in float64, which HF's float32 softmax also zeroes).
 * - If rounding ever left coin * total >= the accumulated mass (or coin >= 1 is passed),
 *   the last eligible token is returned instead of running off the end.
 * - Throws if no token is eligible (HF's torch.multinomial errors on that row too).
 */
export function sampleFromLogits(logits: Float32Array, coin: number): number {
  const n = logits.length;
  const weights = scratchWeights(n);
  const total = softmaxWeights(logits, weights);
  if (!(total > 0)) throw new RangeError("cannot sample: every token is banned (-Infinity)");
  const target = coin * total;
  let cumulative = 0;
  let lastEligible = -1;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (w === 0) continue;
    cumulative += w;
    lastEligible = i;
    if (cumulative > target) return i;
  }
  return lastEligible;
}
