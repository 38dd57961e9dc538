// Hugging Face logits processors that run in greedy and sampling mode alike, in HF's order:
// repetition_penalty → no_repeat_ngram_size → min_new_tokens. All mutate one sequence's
// float32 logits row in place and return nothing. Arithmetic mirrors PyTorch on CPU: a Python
// float scalar is cast to float32 and the op runs in float32, so a penalty of 1.2 acts as
// Math.fround(1.2); storing into the Float32Array performs the final float32 rounding.
//
// The top-k / top-p / temperature warpers live in warpers.ts, n-gram blocking in ngram.ts.

export { applyNoRepeatNgram, NgramIndex } from "./ngram";
export { applyTemperature, applyTopK } from "./warpers";
export { applyTopP } from "./top-p";

/** Throws unless `id` indexes the logits row (HF's gather/scatter would fail as well). */
export function checkTokenId(id: number, vocabSize: number, what: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new RangeError(`${what} ${id} is outside the vocabulary [0, ${vocabSize})`);
  }
}

/** Per-vocab stamps marking ids already penalised in the current call, reused across calls. */
let stamps = new Uint32Array(0);
let epoch = 0;

/**
 * HF RepetitionPenaltyLogitsProcessor: every distinct token of the context (prompt + tokens
 * generated so far) gets logit < 0 ? logit * penalty : logit / penalty. Each token is
 * penalised once no matter how often it occurs (HF gathers, then scatters the same value).
 * A penalty of 1.0 disables it. Note the asymmetry: with penalty > 1 a token is always made
 * less likely, whatever the sign of its logit; 0 stays 0 and -Infinity stays -Infinity.
 */
export function applyRepetitionPenalty(
  logits: Float32Array,
  contextIds: ArrayLike<number>,
  penalty: number,
): void {
  if (penalty === 1) return;
  const vocab = logits.length;
  if (stamps.length < vocab) {
    stamps = new Uint32Array(vocab);
    epoch = 0;
  }
  epoch = (epoch + 1) >>> 0;
  if (epoch === 0) {
    // Wrapped after 2^32 calls: stale stamps could collide with the new epoch, so clear them.
    stamps.fill(0);
    epoch = 1;
  }
  const p = Math.fround(penalty);
  for (let i = 0; i < contextIds.length; i++) {
    const id = contextIds[i];
    checkTokenId(id, vocab, "context token");
    if (stamps[id] === epoch) continue;
    stamps[id] = epoch;
    const v = logits[id];
    logits[id] = v < 0 ? v * p : v / p;
  }
}

/**
 * Same as applyRepetitionPenalty for a caller that already keeps the context's distinct
 * tokens (the token chooser does, incrementally), so no per-call dedup is needed.
 * `distinctIds[0..count)` must be distinct and in range.
 */
export function applyRepetitionPenaltyToDistinct(
  logits: Float32Array,
  distinctIds: ArrayLike<number>,
  count: number,
  penalty: number,
): void {
  if (penalty === 1) return;
  const p = Math.fround(penalty);
  for (let i = 0; i < count; i++) {
    const id = distinctIds[i];
    const v = logits[id];
    logits[id] = v < 0 ? v * p : v / p;
  }
}

/**
 * HF MinNewTokensLengthLogitsProcessor: while fewer than `minNewTokens` tokens have been
 * generated (the prompt does not count), every EOS id is set to -Infinity so generation
 * cannot stop. 0 disables it. HF only installs it when an EOS id is configured; an empty
 * `eosTokenIds` likewise does nothing.
 */
export function applyMinNewTokens(
  logits: Float32Array,
  newTokenCount: number,
  minNewTokens: number,
  eosTokenIds: ArrayLike<number>,
): void {
  if (newTokenCount >= minNewTokens) return;
  for (let i = 0; i < eosTokenIds.length; i++) {
    const id = eosTokenIds[i];
    checkTokenId(id, logits.length, "eos token id");
    logits[id] = -Infinity;
  }
}
