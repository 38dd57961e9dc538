// One sequence's token chooser: runs the HF logits processors in HF's order on a logits row
// and picks the next token, keeping the per-sequence state incrementally (distinct context
// tokens for the repetition penalty, an n-gram index, the new-token count).

import { NgramIndex } from "./ngram";
import { applyMinNewTokens, applyRepetitionPenaltyToDistinct, checkTokenId } from "./processors";
import { argmax, sampleFromLogits } from "./select";
import { type SamplingSettings, samplingSettingsError } from "./settings";
import { applyTopP } from "./top-p";
import { applyTemperature, applyTopK } from "./warpers";

export interface TokenChooserOptions {
  /** Every id that ends generation; min_new_tokens bans all of them. */
  eosTokenIds: number[];
  /** The prompt's token ids: part of the context for repetition_penalty and n-gram blocking. */
  promptIds: ArrayLike<number>;
  /** Uniform [0, 1) source; called exactly once per next() when do_sample, never otherwise. */
  random: () => number;
}

/**
 * Protocol (enforced, violations throw): `const id = chooser.next(logits); chooser.accept(id);`
 * once per generated token. next() returns the choice but records nothing; accept() appends
 * it to the context. accept() must receive exactly the id next() returned, and next() refuses
 * to run again before that — so a forgotten, doubled or mismatched accept() fails loudly
 * instead of silently skewing penalties. Skipping accept() after the final token (e.g. EOS)
 * is fine.
 */
export interface TokenChooser {
  /** Processes `logits` IN PLACE (the row is overwritten) and returns the chosen token id. */
  next(logits: Float32Array): number;
  /** Confirms the token next() chose and appends it to the context. */
  accept(tokenId: number): void;
  /** Tokens accepted so far (prompt excluded). */
  readonly newTokenCount: number;
}

export function createTokenChooser(settings: SamplingSettings, opts: TokenChooserOptions): TokenChooser {
  const invalid = samplingSettingsError(settings);
  if (invalid) throw invalid;
  const s = { ...settings }; // later edits to the caller's object must not change a running sequence
  const eosTokenIds = [...opts.eosTokenIds];
  const promptIds = Array.from(opts.promptIds);
  const random = opts.random;

  const ngrams = s.no_repeat_ngram_size > 0 ? new NgramIndex(s.no_repeat_ngram_size, promptIds) : null;
  // Distinct context tokens; sized lazily because the vocab is only known from the first row.
  let seen: Uint8Array | null = null;
  let distinct = new Int32Array(0);
  let distinctCount = 0;
  let newTokenCount = 0;
  let pending = -1; // the token next() chose and accept() has not confirmed yet

  const rememberDistinct = (id: number): void => {
    checkTokenId(id, seen!.length, "context token");
    if (seen![id]) return;
    seen![id] = 1;
    if (distinctCount === distinct.length) {
      const grown = new Int32Array(Math.max(64, distinct.length * 2));
      grown.set(distinct);
      distinct = grown;
    }
    distinct[distinctCount++] = id;
  };

  return {
    get newTokenCount() {
      return newTokenCount;
    },

    next(logits: Float32Array): number {
      if (pending !== -1) throw new Error(`accept(${pending}) must be called before the next next()`);
      if (seen === null) {
        seen = new Uint8Array(logits.length);
        for (const id of promptIds) rememberDistinct(id);
      } else if (seen.length !== logits.length) {
        throw new RangeError(`logits row has ${logits.length} entries, earlier rows had ${seen.length}`);
      }
      // HF order: repetition_penalty → no_repeat_ngram → min_new_tokens → [temperature → top_k → top_p].
      applyRepetitionPenaltyToDistinct(logits, distinct, distinctCount, s.repetition_penalty);
      ngrams?.apply(logits);
      applyMinNewTokens(logits, newTokenCount, s.min_new_tokens, eosTokenIds);
      let id: number;
      if (!s.do_sample) {
        id = argmax(logits);
      } else {
        applyTemperature(logits, s.temperature);
        applyTopK(logits, s.top_k);
        applyTopP(logits, s.top_p);
        id = sampleFromLogits(logits, random());
      }
      pending = id;
      return id;
    },

    accept(tokenId: number): void {
      if (pending === -1) throw new Error("accept() called without a preceding next()");
      if (tokenId !== pending) throw new Error(`accept(${tokenId}) does not match the token next() chose (${pending})`);
      pending = -1;
      if (s.repetition_penalty !== 1) rememberDistinct(tokenId);
      ngrams?.push(tokenId);
      newTokenCount++;
    },
  };
}
