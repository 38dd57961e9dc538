// HF NoRepeatNGramLogitsProcessor: a token is banned (-Infinity) if appending it would
// repeat an n-gram that already occurs anywhere in the context, prompt included.
// HF semantics (_get_ngrams / _get_generated_ngrams / _calc_banned_ngram_tokens):
// - the lookup key is the last n - 1 context tokens; every token that followed that key
//   somewhere earlier in the context is banned;
// - n = 1 bans every token already in the context;
// - nothing is banned while the context is shorter than n - 1 tokens (HF's
//   `cur_len + 1 < ngram_size` guard); n = 0 disables the processor.

function ban(logits: Float32Array, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= logits.length) {
    throw new RangeError(`context token ${id} is outside the vocabulary [0, ${logits.length})`);
  }
  logits[id] = -Infinity;
}

/**
 * Stateless reference version: scans the whole context each call, O(context * n) worst case.
 * Fine for tests and one-off calls; a generation loop should use NgramIndex.
 */
export function applyNoRepeatNgram(logits: Float32Array, contextIds: ArrayLike<number>, n: number): void {
  if (n === 0) return;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`no_repeat_ngram_size must be an integer >= 0, got ${n}`);
  const len = contextIds.length;
  if (len + 1 < n) return;
  const keyStart = len - (n - 1);
  for (let start = 0; start + n <= len; start++) {
    let match = true;
    for (let j = 0; j < n - 1; j++) {
      if (contextIds[start + j] !== contextIds[keyStart + j]) {
        match = false;
        break;
      }
    }
    if (match) ban(logits, contextIds[start + n - 1]);
  }
}

/**
 * Incremental index for one sequence: push() each context token once (prompt, then every
 * generated token); apply() bans in O(n + matches * n) per step instead of rescanning the
 * whole context. n-gram keys are hashed into a Map of start positions; hash collisions are
 * harmless because every candidate is verified token by token.
 */
export class NgramIndex {
  readonly n: number;
  private tokens: Int32Array;
  private length = 0;
  /** hash(tokens[s .. s+n-2]) -> every start s of a complete n-gram with that (n-1)-token key */
  private readonly starts = new Map<number, number[]>();

  constructor(n: number, initialTokens: ArrayLike<number> = []) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`NgramIndex needs n >= 1, got ${n}`);
    this.n = n;
    this.tokens = new Int32Array(Math.max(16, initialTokens.length * 2));
    for (let i = 0; i < initialTokens.length; i++) this.push(initialTokens[i]);
  }

  /** Number of context tokens pushed so far. */
  get size(): number {
    return this.length;
  }

  push(token: number): void {
    if (!Number.isInteger(token) || token < 0) throw new RangeError(`invalid token id ${token}`);
    if (this.length === this.tokens.length) {
      const grown = new Int32Array(this.tokens.length * 2);
      grown.set(this.tokens);
      this.tokens = grown;
    }
    this.tokens[this.length++] = token;
    const start = this.length - this.n; // the n-gram that this token just completed
    if (start < 0) return;
    const key = this.hash(start);
    const list = this.starts.get(key);
    if (list) list.push(start);
    else this.starts.set(key, [start]);
  }

  /** Sets every banned token's logit to -Infinity. */
  apply(logits: Float32Array): void {
    const keyLength = this.n - 1;
    const keyStart = this.length - keyLength;
    if (keyStart < 0) return; // context shorter than n - 1: HF bans nothing yet
    const list = this.starts.get(this.hash(keyStart));
    if (!list) return;
    const t = this.tokens;
    for (let i = 0; i < list.length; i++) {
      const start = list[i];
      let match = true;
      for (let j = 0; j < keyLength; j++) {
        if (t[start + j] !== t[keyStart + j]) {
          match = false;
          break;
        }
      }
      if (match) ban(logits, t[start + keyLength]);
    }
  }

  /** 32-bit hash of the n - 1 tokens starting at `start` (multiply-xorshift per token). */
  private hash(start: number): number {
    let h = 0x811c9dc5;
    for (let j = start, end = start + this.n - 1; j < end; j++) {
      h = Math.imul(h ^ this.tokens[j], 0x9e3779b1);
      h ^= h >>> 15;
    }
    return h;
  }
}
