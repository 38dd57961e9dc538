// GPT-2's byte-level BPE over gpt-tokenizer's r50k_base tables (identical to GPT-2's encoder), with
// our own pre-tokenizer and merge so that prompt ids equal Hugging Face's GPT2Tokenizer and the work
// stays bounded for any body:
// - pre-tokenization classes are Unicode White_Space / L / N, as in GPT-2's and HF's regex (pretokenize.ts);
// - "<|endoftext|>" is recognised anywhere in the text, as Hugging Face's added token is;
// - merging is O(n log n) per piece (bpe.ts; gpt-tokenizer's is quadratic), and encodeWithin stops
//   as soon as the ids can no longer fit a limit, so a 128 KiB prompt is rejected after bounded work.
// Decoding never goes through gpt-tokenizer's decode(): it keeps unfinished UTF-8 bytes in a
// module-wide decoder, which would leak text between requests. We keep per-sequence state instead.
import { mergePiece, type MergeWork } from "./bpe";
import { pretokenize } from "./pretokenize";
import { EOS_TEXT, EOS_TOKEN_ID, gpt2Vocabulary, VOCAB_SIZE } from "./vocabulary";

export { EOS_TEXT, EOS_TOKEN_ID, VOCAB_SIZE };
export type { MergeWork };

/** The ids, or (when a limit was given and exceeded) only the fact that there are more. */
export type BoundedEncoding = { fits: true; ids: number[] } | { fits: false; moreThan: number };

/** Encode text exactly as Hugging Face's GPT2Tokenizer does (special token included). */
export function encode(text: string): number[] {
  const encoded = encodeWithin(text, Number.POSITIVE_INFINITY);
  if (!encoded.fits) throw new Error("unreachable: no limit");
  return encoded.ids;
}

/**
 * Encode, but give up as soon as the ids cannot be ≤ maxTokens (a piece of n bytes is at least
 * ceil(n / longest token) ids, so a piece is not even merged when that bound is already too many).
 * `work` counts merge steps, for tests that bound them.
 */
export function encodeWithin(text: string, maxTokens: number, work?: MergeWork): BoundedEncoding {
  const vocabulary = gpt2Vocabulary();
  const ids: number[] = [];
  const tooMany = { fits: false, moreThan: maxTokens } as const;
  let bytes = new Uint8Array(256);
  let parts = new Int32Array(256);
  const segments = text.split(EOS_TEXT);
  for (let s = 0; s < segments.length; s++) {
    if (s > 0) ids.push(EOS_TOKEN_ID);
    for (const [piece] of pretokenize(segments[s])) {
      if (bytes.length < piece.length * 3) {
        bytes = new Uint8Array(piece.length * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
        parts = new Int32Array(piece.length * 3);
      }
      const length = utf8.encodeInto(piece, bytes).written;
      if (ids.length + Math.ceil(length / vocabulary.maxTokenBytes) > maxTokens) return tooMany;
      for (let i = 0; i < length; i++) parts[i] = vocabulary.byteToken[bytes[i]];
      mergePiece(parts, length, vocabulary.merge, ids, work);
    }
    if (ids.length > maxTokens) return tooMany;
  }
  return { fits: true, ids };
}

const utf8 = new TextEncoder();

/** The raw bytes of one token (GPT-2 tokens are bytes, not always whole characters). */
export function tokenToBytes(id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) throw new RangeError(`token id ${id} is outside the vocabulary`);
  const { data, offsets } = gpt2Vocabulary();
  return data.subarray(offsets[id], offsets[id + 1]);
}

/** Decode a whole sequence (invalid UTF-8 becomes U+FFFD, as Hugging Face's errors="replace"). */
export function decode(ids: ArrayLike<number>): string {
  const decoder = new IncrementalDecoder();
  let text = "";
  for (let i = 0; i < ids.length; i++) text += decoder.push(ids[i]);
  return text + decoder.flush();
}

/**
 * Per-sequence streaming decoder: `push` returns only complete characters; bytes of a character
 * split across tokens wait for the next token. One instance per sequence, never shared.
 */
export class IncrementalDecoder {
  // ignoreBOM: true keeps a U+FEFF the model generated instead of swallowing it.
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  push(id: number): string {
    return this.decoder.decode(tokenToBytes(id), { stream: true });
  }

  /** Whatever incomplete bytes remain, as U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
