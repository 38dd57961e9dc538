// Our encoder against gpt-tokenizer's own (slow, quadratic, but long-proven) r50k_base encoder on
// seeded random and adversarial text. gpt-tokenizer pre-tokenizes with JS's `\s`, which differs
// from GPT-2's `\s` only at U+0085 and U+FEFF (see pretokenize.test.ts), so:
// - text without those two must encode identically end to end;
// - any text must merge identically piece by piece (our pieces, gpt-tokenizer's BPE of each).
import { encode as referenceEncode } from "gpt-tokenizer/encoding/r50k_base";
import r50k from "gpt-tokenizer/encoding/r50k_base";
import { describe, expect, it } from "vitest";
import { createUint32Rng } from "../../src/sampling/rng";
import { encode, EOS_TEXT, EOS_TOKEN_ID } from "../../src/tokenizer/index";
import { pretokenize } from "../../src/tokenizer/pretokenize";

const core = (r50k as unknown as { bytePairEncodingCoreProcessor: { bytePairEncode(piece: string): number[] } }).bytePairEncodingCoreProcessor;

function referencePieceByPiece(text: string): number[] {
  return text.split(EOS_TEXT).flatMap((segment, index) => [
    ...(index > 0 ? [EOS_TOKEN_ID] : []),
    ...Array.from(pretokenize(segment), ([piece]) => core.bytePairEncode(piece)).flat(),
  ]);
}

/** gpt-tokenizer end to end (its r50k_base has no special tokens: we add <|endoftext|> as HF does). */
function referenceEndToEnd(text: string): number[] {
  return text.split(EOS_TEXT).flatMap((segment, index) => [...(index > 0 ? [EOS_TOKEN_ID] : []), ...referenceEncode(segment)]);
}

const JS_ONLY_DIFFERENCES = /[\u0085\ufeff]/;

// Fragments drawn by the generator: every script and class the pattern distinguishes, the
// contractions, whitespace of every kind (including the ones JS, Python `re` and GPT-2 disagree on).
const FRAGMENTS = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
  ..."0123456789",
  ..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "''", "'",
  " ", " ", " ", "  ", "\n", "\n\n", "\t", "\r\n", "\u000b", "\u000c", "\u00a0", "\u1680", "\u2003", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
  "\u001c", "\u001d", "\u001e", "\u001f", "\u0085", "\ufeff", "\u200b", "\u180e", "\u0000", "\u007f",
  ..."éüßñçøåÆŒ", "e\u0301", "ﬁ", ..."αβγΩ", ..."жщЯ", ..."中文日本語東京", ..."한국어", ..."عربى", ..."हिन्दी", ..."ไทย",
  "٣", "²", "½", "Ⅻ", "〇", "𝟘",
  "🙂", "👋🏽", "👨‍👩‍👧", "🇯🇵", "𝐀", "𐍈", "𠀀", "\u{e0001}", "\u{10ffff}", "\ud800", "\udfff",
  " the", " of", " and", "ing", "tion", "http://", "www.", ".com", "...", "—", "–", "“", "”", "‘", "’",
  EOS_TEXT,
];

function randomText(next: () => number, maxFragments: number): string {
  let text = "";
  const count = 1 + (next() % maxFragments);
  for (let i = 0; i < count; i++) {
    const fragment = FRAGMENTS[next() % FRAGMENTS.length];
    // Sometimes a run: repetition is where merges chain.
    text += next() % 8 === 0 ? fragment.repeat(2 + (next() % 40)) : fragment;
  }
  return text;
}

const ADVERSARIAL = [
  "", " ", "  ", "   x", "x   ", " \n \n", "\n\n\n\n", "\t\t\t\tx", "\u3000\u3000x", "x\u00a0\u00a0y",
  "a".repeat(3000), "7".repeat(2000), "!".repeat(2000), "-".repeat(2000), "=".repeat(1000), " ".repeat(2000),
  "中".repeat(1000), "ab".repeat(1500), "abc".repeat(800), "🙂".repeat(500), "\n".repeat(1000) + "x",
  "1234567890".repeat(200), "'s".repeat(500), "'".repeat(500), " '".repeat(400), "Hello<|endoftext|>world",
  "<|endoftext", "|endoftext|>", "<|endoftext|><|endoftext|>", "<|endoftext|>".repeat(50),
  Array.from({ length: 256 }, (_, b) => String.fromCharCode(b)).join(""),
];

describe("encode agrees with gpt-tokenizer's r50k_base encoder", () => {
  it("on adversarial strings: runs, every Latin-1 character, special-token edges", () => {
    for (const text of ADVERSARIAL) {
      expect(encode(text), JSON.stringify(text.slice(0, 40))).toEqual(referencePieceByPiece(text));
      if (!JS_ONLY_DIFFERENCES.test(text)) expect(encode(text)).toEqual(referenceEndToEnd(text));
    }
  });

  it("on 3000 seeded random strings of mixed scripts, digits, punctuation, emoji, whitespace runs and contractions", () => {
    const next = createUint32Rng(2024);
    let endToEnd = 0;
    for (let i = 0; i < 3000; i++) {
      const text = randomText(next, 30);
      const ids = encode(text);
      expect(ids, JSON.stringify(text)).toEqual(referencePieceByPiece(text));
      if (!JS_ONLY_DIFFERENCES.test(text)) {
        expect(ids, JSON.stringify(text)).toEqual(referenceEndToEnd(text));
        endToEnd++;
      }
    }
    expect(endToEnd).toBeGreaterThan(1000); // the end-to-end comparison really ran
  });

  it("on text made of random tokens' bytes (merges across token boundaries)", () => {
    const next = createUint32Rng(7);
    const decoder = new TextDecoder();
    const data = (r50k as unknown as { bytePairEncodingCoreProcessor: { tryDecodeToken(id: number): string | Uint8Array | undefined } }).bytePairEncodingCoreProcessor;
    for (let i = 0; i < 500; i++) {
      const parts = Array.from({ length: 1 + (next() % 20) }, () => data.tryDecodeToken(next() % EOS_TOKEN_ID) ?? "");
      const text = parts.map((part) => (typeof part === "string" ? part : decoder.decode(part))).join("");
      expect(encode(text), JSON.stringify(text)).toEqual(referencePieceByPiece(text));
    }
  });
});
