// GPT-2's byte-level BPE, through gpt-tokenizer's r50k_base tables (identical to GPT-2's encoder),
// with two corrections so prompt ids equal Hugging Face's GPT2Tokenizer:
// - pre-tokenization uses Python's idea of whitespace (`\s` differs for U+0085, U+FEFF, U+001C–1F);
// - "<|endoftext|>" is recognised anywhere in the text, as Hugging Face's added token is.
// Decoding never goes through gpt-tokenizer's decode(): it keeps unfinished UTF-8 bytes in a
// module-wide decoder, which would leak text between requests. We keep per-sequence state instead.
import r50k from "gpt-tokenizer/encoding/r50k_base";

export const EOS_TOKEN_ID = 50256;
export const EOS_TEXT = "<|endoftext|>";
export const VOCAB_SIZE = 50257;

/** The pieces of gpt-tokenizer's BPE core we rely on (pinned version; checked on first use). */
interface BpeCore {
  getBpeRankFromString(piece: string): number | undefined;
  bytePairEncode(piece: string): number[];
  tryDecodeToken(id: number): string | Uint8Array | undefined;
}

// Python `re`'s \s for str patterns (what GPT-2's encoder.py and Hugging Face use).
const WS = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PRETOKENIZE = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  "gu",
);

let core: BpeCore | undefined;
function bpe(): BpeCore {
  if (core) return core;
  const candidate = (r50k as unknown as { bytePairEncodingCoreProcessor?: BpeCore }).bytePairEncodingCoreProcessor;
  if (!candidate || typeof candidate.bytePairEncode !== "function" || typeof candidate.tryDecodeToken !== "function") {
    throw new Error("gpt-tokenizer's BPE core is not where this code expects it: pin gpt-tokenizer to 4.0.0");
  }
  core = candidate;
  return core;
}

/** Encode text exactly as Hugging Face's GPT2Tokenizer does (special token included). */
export function encode(text: string): number[] {
  const ids: number[] = [];
  const parts = text.split(EOS_TEXT);
  parts.forEach((part, index) => {
    if (index > 0) ids.push(EOS_TOKEN_ID);
    for (const [piece] of part.matchAll(PRETOKENIZE)) {
      const whole = bpe().getBpeRankFromString(piece);
      if (whole !== undefined) ids.push(whole);
      else for (const id of bpe().bytePairEncode(piece)) ids.push(id);
    }
  });
  return ids;
}

// Every token's bytes packed into one buffer (built once per isolate; ~300 KB).
let tokenBytes: { data: Uint8Array; offsets: Uint32Array } | undefined;
function table(): { data: Uint8Array; offsets: Uint32Array } {
  if (tokenBytes) return tokenBytes;
  const utf8 = new TextEncoder();
  const pieces: Uint8Array[] = [];
  let total = 0;
  for (let id = 0; id < VOCAB_SIZE; id++) {
    const value = id === EOS_TOKEN_ID ? EOS_TEXT : bpe().tryDecodeToken(id);
    if (value === undefined) throw new Error(`token ${id} has no bytes in r50k_base`);
    const bytes = typeof value === "string" ? utf8.encode(value) : value;
    pieces.push(bytes);
    total += bytes.length;
  }
  const data = new Uint8Array(total);
  const offsets = new Uint32Array(VOCAB_SIZE + 1);
  pieces.forEach((bytes, id) => {
    data.set(bytes, offsets[id]);
    offsets[id + 1] = offsets[id] + bytes.length;
  });
  tokenBytes = { data, offsets };
  return tokenBytes;
}

/** The raw bytes of one token (GPT-2 tokens are bytes, not always whole characters). */
export function tokenToBytes(id: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) throw new RangeError(`token id ${id} is outside the vocabulary`);
  const { data, offsets } = table();
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
