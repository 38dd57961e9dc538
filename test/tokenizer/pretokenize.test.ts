// GPT-2's pre-tokenizer `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
// as Python's `regex` (GPT-2's encoder.py) and Hugging Face's tokenizers run it: `\s` is the Unicode
// White_Space property. Below, an independent scanner implements that pattern by hand from an
// explicit White_Space list (PropList.txt; also Rust regex-syntax's perl_space table and
// Oniguruma's Unicode \s), and every BMP code point plus astral samples is checked in three contexts.
import { describe, expect, it } from "vitest";
import { encode } from "../../src/tokenizer/index";
import { pretokenize } from "../../src/tokenizer/pretokenize";

// Unicode PropList.txt, White_Space=Yes (unchanged since Unicode 6.3 dropped U+180E).
const WHITE_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);
const LETTER = /^\p{L}$/u;
const NUMBER = /^\p{N}$/u;

type Kind = "space" | "letter" | "number" | "other";
function kindOf(char: string | undefined): Kind | undefined {
  if (char === undefined) return undefined;
  const code = char.codePointAt(0) ?? 0;
  if (WHITE_SPACE.has(code)) return "space";
  if (LETTER.test(char)) return "letter";
  if (NUMBER.test(char)) return "number";
  return "other";
}

const CONTRACTIONS = ["s", "t", "re", "ve", "m", "ll", "d"];

/** The pattern's alternatives tried in order at each position, by hand. */
function referencePieces(text: string): string[] {
  const chars = Array.from(text); // code points (a lone surrogate is one "character", as in the regex)
  const pieces: string[] = [];
  const runEnd = (from: number, kind: Kind) => {
    let end = from;
    while (end < chars.length && kindOf(chars[end]) === kind) end++;
    return end;
  };
  let i = 0;
  while (i < chars.length) {
    let end = -1;
    if (chars[i] === "'") {
      const rest = chars.slice(i + 1, i + 3).join("");
      const suffix = CONTRACTIONS.find((c) => rest.startsWith(c));
      if (suffix) end = i + 1 + suffix.length;
    }
    if (end < 0) {
      // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional U+0020, then a run of one kind.
      const start = chars[i] === " " && kindOf(chars[i + 1]) !== "space" && i + 1 < chars.length ? i + 1 : i;
      const kind = kindOf(chars[start]);
      if (kind !== "space" && kind !== undefined) end = runEnd(start, kind);
    }
    if (end < 0) {
      // `\s+(?!\S)`: the whole run at the end of the text, else all of it but the last space
      // (when that leaves at least one); otherwise `\s+`.
      const whole = runEnd(i, "space");
      end = whole === chars.length || whole - i === 1 ? whole : whole - 1;
    }
    pieces.push(chars.slice(i, end).join(""));
    i = end;
  }
  return pieces;
}

const ourPieces = (text: string) => Array.from(pretokenize(text), ([piece]) => piece);

const ASTRAL_SAMPLES = [0x10000, 0x10341, 0x1034a, 0x1d400, 0x1d7ce, 0x1f600, 0x1f3fd, 0x20000, 0xe0001, 0xe0100, 0xf0000, 0x10fffd, 0x10ffff];
const CONTEXTS: [string, (c: string) => string][] = [
  ["x{c}'s", (c) => `x${c}'s`],
  ["\\n\\n{c}", (c) => `\n\n${c}`],
  [" {c} ", (c) => ` ${c} `],
];

describe("pre-tokenization classes (Unicode White_Space, L, N)", () => {
  it.each(CONTEXTS)("every code point U+0000–U+FFFF and astral samples in %s split as the pattern defines", (_label, context) => {
    const codes = [...Array.from({ length: 0x10000 }, (_, code) => code), ...ASTRAL_SAMPLES];
    const mismatches: string[] = [];
    for (const code of codes) {
      const text = context(String.fromCodePoint(code));
      const ours = ourPieces(text);
      const expected = referencePieces(text);
      if (ours.join("\u0000|") !== expected.join("\u0000|")) mismatches.push(`U+${code.toString(16).padStart(4, "0")}: ${JSON.stringify(ours)} vs ${JSON.stringify(expected)}`);
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it("the reference scanner is not vacuous: it splits whitespace, runs and contractions", () => {
    expect(referencePieces("Hello  world's 42\u3000\u3000x\n\n")).toEqual(["Hello", " ", " world", "'s", " 42", "\u3000", "\u3000", "x", "\n\n"]);
    expect(referencePieces(" \u0085x")).toEqual([" ", "\u0085", "x"]);
    expect(referencePieces("x\u001d's")).toEqual(["x", "\u001d'", "s"]);
  });

  it("U+001C–U+001F are not whitespace (Python re would say they are; GPT-2's regex and HF do not)", () => {
    expect(encode("\u001d's")).toEqual([217, 6, 82]);
    expect(encode("\n\n\u001e")).toEqual([198, 198, 218]);
  });
});
