// Log-probabilities of the model's own next-token distribution (log-softmax of the raw logits,
// before any processor or sampling setting), as OpenAI's `logprobs` reports them.

export interface TokenLogprobs {
  /** log p(chosen token). */
  logprob: number;
  /** The `n` most likely tokens, most likely first (ties: lower id first). */
  top: { tokenId: number; logprob: number }[];
}

/** log Σ exp(logits), computed stably around the maximum. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** The chosen token's log-probability and the top `n` alternatives, from one raw logits row. */
export function tokenLogprobs(logits: Float32Array, chosen: number, n: number): TokenLogprobs {
  const lse = logSumExp(logits);
  // n is small (≤ 5 on the API): keep a sorted buffer instead of sorting the whole vocabulary.
  const top: number[] = [];
  for (let id = 0; id < logits.length && n > 0; id++) {
    const value = logits[id];
    if (top.length === n && value <= logits[top[n - 1]]) continue;
    let at = top.length;
    while (at > 0 && value > logits[top[at - 1]]) at--;
    top.splice(at, 0, id);
    if (top.length > n) top.pop();
  }
  return {
    logprob: logits[chosen] - lse,
    top: top.map((tokenId) => ({ tokenId, logprob: logits[tokenId] - lse })),
  };
}
