// HF TopPLogitsWarper (nucleus sampling) without sorting the whole vocabulary.

import { scratchWeights, softmaxWeights } from "./select";

/** Candidate token ids, reused across calls (workers are single-threaded). */
let order = new Int32Array(0);
/** Prefilter passes; each is O(candidates) and typically removes most of the light tail. */
const MAX_PREFILTER_PASSES = 8;
/** Ranges at most this long are sorted outright instead of partitioned further. */
const SORT_CUTOFF = 64;

/**
 * HF TopPLogitsWarper: sort ascending, softmax, cumulative sum; tokens whose cumulative
 * probability is <= 1 - top_p become -Infinity, but the highest token always stays.
 * Equivalently the kept set is the smallest highest-probability prefix whose mass reaches
 * top_p. 1.0 disables it.
 *
 * Ties: the order is that of a stable ascending sort (token index breaks ties, as PyTorch's
 * CPU sort does in practice), so among equal logits the lower indices are removed first.
 * Precision: the threshold is float32(1 - top_p), as in PyTorch (Python computes 1 - top_p in
 * double; the comparison casts it to the tensor's float32), so "round" cases such as a
 * probability of exactly 0.1 with top_p 0.9 are removed as in HF. Probabilities are float64
 * here and float32 in PyTorch, so a cumulative sum within float32 rounding of the threshold
 * may still be decided differently.
 *
 * Cost: O(vocab) expected, no full sort. Only the position where the ascending cumulative sum
 * crosses the threshold matters, so (1) tokens lighter than (mass still removable) /
 * (candidates left) are dropped in linear passes: they are the lowest candidates and together
 * fit in the budget; (2) the crossing point among the rest is found by a weighted quickselect.
 */
export function applyTopP(logits: Float32Array, topP: number): void {
  if (topP >= 1) return;
  if (!(topP > 0)) throw new RangeError(`top_p must be in (0, 1], got ${topP}`);
  const n = logits.length;
  const weights = scratchWeights(n);
  const total = softmaxWeights(logits, weights);
  if (!(total > 0)) return; // nothing eligible, nothing to remove
  if (order.length < n) order = new Int32Array(n);

  let m = 0;
  for (let i = 0; i < n; i++) if (logits[i] !== -Infinity) order[m++] = i;
  const budget = Math.fround(1 - topP) * total; // removable mass, in units of `weights`
  let removed = 0; // weight removed so far, lowest tokens first
  for (let pass = 0; pass < MAX_PREFILTER_PASSES; pass++) {
    // Tokens tied with the max have weight exactly 1 (exp(0)) and are never prefiltered.
    const bound = (budget - removed) / m;
    let kept = 0;
    for (let j = 0; j < m; j++) {
      const id = order[j];
      const w = weights[id];
      if (w < bound && w !== 1) {
        removed += w;
        logits[id] = -Infinity;
      } else {
        order[kept++] = id;
      }
    }
    if (kept === m) break;
    m = kept;
  }
  removeAscendingPrefix(logits, weights, m, removed, budget);
}

/**
 * Among candidates order[0..m), in ascending (logit, index) order, sets to -Infinity every
 * token whose cumulative weight (starting from `removed`) is <= budget, except the last.
 * Weighted quickselect: partition around a pivot; if everything below it fits in the budget
 * it is all removed and the search continues above, otherwise the crossing lies below.
 */
function removeAscendingPrefix(logits: Float32Array, weights: Float64Array, m: number, removed: number, budget: number): void {
  // (logit, index) keys are all distinct, so this is a strict total order: the stable sort.
  const less = (a: number, b: number): boolean => logits[a] < logits[b] || (logits[a] === logits[b] && a < b);
  let lo = 0;
  let hi = m; // the crossing lies in order[lo..hi); everything from hi on is kept
  while (hi - lo > SORT_CUTOFF) {
    const p = partition(order, lo, hi, less);
    let below = 0;
    for (let j = lo; j < p; j++) below += weights[order[j]];
    if (removed + below > budget) {
      hi = p;
      continue;
    }
    for (let j = lo; j < p; j++) logits[order[j]] = -Infinity;
    removed += below;
    const pivot = order[p];
    if (p === m - 1 || removed + weights[pivot] > budget) return; // pivot is the crossing: kept
    removed += weights[pivot];
    logits[pivot] = -Infinity;
    lo = p + 1;
  }
  const rest = order.subarray(lo, hi).sort((a, b) => (less(a, b) ? -1 : 1));
  for (let j = 0; j < rest.length; j++) {
    if (lo + j === m - 1) return; // the highest token always stays
    const id = rest[j];
    removed += weights[id];
    if (removed > budget) return; // cumulative sums only grow: the rest stay
    logits[id] = -Infinity;
  }
}

/** Lomuto partition of ids[lo..hi) around a median-of-three pivot; returns its final index. */
function partition(ids: Int32Array, lo: number, hi: number, less: (a: number, b: number) => boolean): number {
  const mid = lo + ((hi - lo) >> 1);
  const last = hi - 1;
  // Order ids[lo], ids[mid], ids[last] so the median lands at `last`, the pivot slot.
  if (less(ids[mid], ids[lo])) swap(ids, mid, lo);
  if (less(ids[last], ids[lo])) swap(ids, last, lo);
  if (less(ids[mid], ids[last])) swap(ids, mid, last);
  const pivot = ids[last];
  let store = lo;
  for (let j = lo; j < last; j++) {
    if (less(ids[j], pivot)) swap(ids, j, store++);
  }
  swap(ids, store, last);
  return store;
}

function swap(ids: Int32Array, i: number, j: number): void {
  const t = ids[i];
  ids[i] = ids[j];
  ids[j] = t;
}
