// Hugging Face sampling warpers, applied only when do_sample is true, in HF's order:
// temperature → top_k → top_p. Each mutates the float32 logits row in place; removed tokens
// become -Infinity (HF's filter_value). HF installs each warper only when it is enabled, and
// so do these functions: temperature 1.0, top_k 0 and top_p 1.0 return immediately.
// top_p has its own module (top-p.ts); it is re-exported here so all three sit together.

export { applyTopP } from "./top-p";

/** HF's min_tokens_to_keep for single-beam sampling. */
const MIN_TOKENS_TO_KEEP = 1;

/**
 * HF TemperatureLogitsWarper: logits / temperature. 1.0 disables it. Like PyTorch, the
 * divisor is the float32 value of `temperature` and the quotient is rounded to float32.
 */
export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const t = Math.fround(temperature);
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i] / t;
}

/** Min-heap storage for kthLargest, reused across calls. */
let heap = new Float32Array(0);

/**
 * The k-th largest value of `values` counting duplicates (torch.topk(values, k)[0][-1]),
 * via a size-k min-heap: O(n log k) worst case, but after the first k elements almost every
 * logit is below the heap's root and costs one comparison. NaN is not supported.
 */
export function kthLargest(values: Float32Array, k: number): number {
  const n = values.length;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`k must be in [1, ${n}], got ${k}`);
  if (heap.length < k) heap = new Float32Array(k);
  const h = heap;
  for (let i = 0; i < k; i++) h[i] = values[i];
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(h, i, k);
  for (let i = k; i < n; i++) {
    const v = values[i];
    if (v > h[0]) {
      h[0] = v;
      siftDown(h, 0, k);
    }
  }
  return h[0];
}

function siftDown(h: Float32Array, start: number, size: number): void {
  let i = start;
  const v = h[i];
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && h[child + 1] < h[child]) child++;
    if (h[child] >= v) break;
    h[i] = h[child];
    i = child;
  }
  h[i] = v;
}

/**
 * HF TopKLogitsWarper: k = min(max(top_k, min_tokens_to_keep = 1), vocab); every logit
 * strictly below the k-th largest value becomes -Infinity. Ties at that value all survive,
 * so more than k tokens can remain. 0 disables it.
 */
export function applyTopK(logits: Float32Array, topK: number): void {
  if (topK === 0) return;
  if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`top_k must be an integer >= 0, got ${topK}`);
  const n = logits.length;
  const k = Math.min(Math.max(topK, MIN_TOKENS_TO_KEEP), n);
  if (k === n) return;
  const threshold = kthLargest(logits, k);
  for (let i = 0; i < n; i++) if (logits[i] < threshold) logits[i] = -Infinity;
}
