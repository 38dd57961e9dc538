// GPT-2's pre-tokenizer pattern, with its classes as Python's `regex` module (GPT-2's encoder.py)
// and Hugging Face's tokenizers define them: `\s` is Unicode White_Space (U+0009–000D, 0020, 0085,
// 00A0, 1680, 2000–200A, 2028, 2029, 202F, 205F, 3000), `\p{L}` / `\p{N}` the Unicode categories.
// JS's own `\s` differs (it adds U+FEFF, lacks U+0085), and so does Python `re`'s (it adds
// U+001C–001F), so the pattern names the property instead.
// Every branch is a plain run with at most one character of backtracking: linear in the text.
const WHITE = "\\p{White_Space}";
export const PRETOKENIZE = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WHITE}\\p{L}\\p{N}]+|${WHITE}+(?!\\P{White_Space})|${WHITE}+`,
  "gu",
);

/** The pieces BPE runs on, in order (a fresh iterator per call: the regex is global). */
export function pretokenize(text: string): IterableIterator<RegExpMatchArray> {
  return text.matchAll(PRETOKENIZE);
}
