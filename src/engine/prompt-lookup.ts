// Prompt-lookup decoding (Hugging Face's `prompt_lookup_num_tokens`): draft tokens are read from
// the text itself. The last few tokens (an n-gram, longest first: 2 tokens, then 1 — Hugging
// Face's default max_matching_ngram_size) are looked up in prompt + output; the tokens that
// followed the earliest earlier occurrence are the draft. One forward step then verifies every
// draft token at once (the scheduler keeps the longest prefix the model agrees with), so text that
// repeats itself — code, lists, templates, quoted passages — costs fewer steps per token.

/** Hugging Face's default max_matching_ngram_size. */
export const MAX_MATCHING_NGRAM = 2;

/**
 * Up to `count` draft tokens continuing `ids` (prompt then output), or none when the last tokens
 * occur nowhere earlier. Drafts stop before `eosTokenId` (a draft never proposes the end).
 */
export function lookupDrafts(ids: readonly number[], count: number, eosTokenId: number, maxNgram = MAX_MATCHING_NGRAM): number[] {
  const length = ids.length;
  if (count <= 0) return [];
  for (let n = Math.min(maxNgram, length - 1); n >= 1; n--) {
    const tail = length - n;
    // Earliest occurrence first; an occurrence must leave at least one token after it.
    for (let start = 0; start + n < length; start++) {
      let k = 0;
      while (k < n && ids[start + k] === ids[tail + k]) k++;
      if (k < n) continue;
      // The first occurrence decides, even when its continuation starts with the end of text.
      const drafts: number[] = [];
      for (let i = start + n; i < length && drafts.length < count && ids[i] !== eosTokenId; i++) drafts.push(ids[i]);
      return drafts;
    }
  }
  return [];
}
