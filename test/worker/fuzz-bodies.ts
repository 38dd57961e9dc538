// Hostile request bodies for the fuzz test, generated from a seed (same seed → same cases). Bodies
// are built as raw text or bytes, not JSON.stringify, so they can hold what a serializer never
// writes: -0, 1e999, NaN, duplicate keys, 10k-deep nesting, invalid UTF-8, raw control characters.
import { createRng } from "../../src/sampling/rng";

export interface FuzzCase {
  /** What the case tries, for the failure message. */
  kind: string;
  contentType: string | null;
  body: string | Uint8Array;
  /** Send the body as a stream without Content-Length (the size is then counted while reading). */
  chunked?: boolean;
  /** The one field a 400 must name (param's root), when a single field was made hostile. */
  field?: string;
  /** A status the case must get, and words its error message must contain. */
  status?: number;
  message?: RegExp;
}

export type Route = "generate" | "completions";

export const FUZZ_PATHS: Record<Route, string> = { generate: "/v1/generate", completions: "/v1/completions" };

/** A case as a POST request's init: its content type, and its body as bytes or a chunked stream. */
export function fuzzRequestInit(fuzz: FuzzCase): RequestInit {
  const headers: Record<string, string> = fuzz.contentType === null ? {} : { "content-type": fuzz.contentType };
  const bytes = typeof fuzz.body === "string" ? new TextEncoder().encode(fuzz.body) : fuzz.body;
  const body = fuzz.chunked
    ? new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 16_384) controller.enqueue(bytes.slice(at, at + 16_384));
          controller.close();
        },
      })
    : bytes;
  return { method: "POST", headers, body, duplex: "half" } as RequestInit;
}

const NESTED_ARRAYS = "[".repeat(10_000) + "]".repeat(10_000);
const NESTED_OBJECTS = '{"a":'.repeat(5_000) + "1" + "}".repeat(5_000);

/** Raw JSON values: wrong types, edge numbers, numbers as strings, deep nesting, pollution keys. */
const RAW_VALUES = [
  "null", "true", "false", "0", "-0", "0.0", "1", "-1", "2", "4", "5", "0.5", "1.5", "-1.5", "100", "100.0000001",
  "1e308", "-1e308", "1e999", "-1e999", "5e-324", "9007199254740993", "4294967295", "4294967296", "-2147483649", "1e20",
  '"5"', '"NaN"', '"Infinity"', '"-Infinity"', '"1e308"', '"-0"', '""', '"true"', '"null"', '"\\u0000"', '"\\ud800"',
  "[]", "[1]", '["a"]', '[""]', '["a","b","c","d","e"]', "[[[]]]", "{}", '{"a":1}', '{"50256":-100}', '{"99999":1}',
  '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', NESTED_ARRAYS, NESTED_OBJECTS,
  `"${"x".repeat(100)}"`,
];

/** Strings that have broken tokenizers and text handling. */
const UNICODE = [
  "\u0085", "\ufeff", "\u2028", "\u2029", "e\u0301\u0301\u0301", "\u{1F469}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}",
  "\u{1F3F3}\uFE0F\u200D\u{1F308}", "\u202Eevil\u202C", "שלום עולם", "مرحبا", "\u0000", "\u001f", "\u007f", "\t\r\n",
  "<|endoftext|>", "<|endoftext", "\ud83d", "\udc00", "𝕳𝖊𝖑𝖑𝖔", "\u200b", "\u00a0", "Ǆ", "İ", "ﬃ", " ", "  \n\n ",
];

/**
 * Prompts that are one pre-tokenized piece of `bytes` UTF-8 bytes: the worst case for a BPE merge
 * that rescans every pair (gpt-tokenizer took ~12 s on 128 KB of "a", blocking the isolate).
 */
export function singlePiecePrompts(bytes: number): [string, string][] {
  return [
    ["letters", "a".repeat(bytes)],
    ["two letters", "ab".repeat(Math.floor(bytes / 2))],
    ["digits", "7".repeat(bytes)],
    ["punctuation", "!".repeat(bytes)],
    ["CJK", "中".repeat(Math.floor(bytes / 3))],
  ];
}

export const GENERATE_FIELDS = [
  "prompt", "max_new_tokens", "max_length", "min_new_tokens", "do_sample", "temperature", "top_k", "top_p",
  "repetition_penalty", "no_repeat_ngram_size", "prompt_lookup_num_tokens", "num_return_sequences", "seed", "stop", "presence_penalty",
  "frequency_penalty", "logit_bias", "stream",
];
export const COMPLETION_FIELDS = [
  "model", "prompt", "max_tokens", "temperature", "top_p", "n", "best_of", "stream", "stream_options", "logprobs",
  "echo", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "seed", "suffix", "user",
];
const ODD_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "top-p", "Prompt", "", " prompt", "\u0000"];

const JSON_TYPES = ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.api+json"];
const WRONG_TYPES = ["text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "json", "*/*"];

const encoder = new TextEncoder();

export function fuzzCases(route: Route, seed: number, count: number, modelName: string, maxBodyBytes: number): FuzzCase[] {
  const random = createRng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

  const fields = route === "generate" ? GENERATE_FIELDS : COMPLETION_FIELDS;
  // Cheap valid requests: two tokens at most (the test env caps generation at four).
  const base: Record<string, string> = route === "generate"
    ? { prompt: '"Hi"', max_new_tokens: "2" }
    : { model: JSON.stringify(modelName), prompt: '"Hi"', max_tokens: "2", temperature: "0" };
  const object = (entries: [string, string][]) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
  const withField = (key: string, raw: string) => object([...Object.entries(base).filter(([k]) => k !== key), [key, raw]]);
  const text = (maxParts: number) => Array.from({ length: between(0, maxParts) }, () => (random() < 0.5 ? pick(UNICODE) : pick(["a", " the", "Hello", "1", "!", "é"]))).join("");
  const value = (): string => {
    const r = random();
    if (r < 0.45) return pick(RAW_VALUES);
    if (r < 0.6) return String(between(-3, 10));
    if (r < 0.7) return String((random() - 0.3) * 10 ** between(0, 12));
    if (r < 0.85) return JSON.stringify(text(6));
    return JSON.stringify(Array.from({ length: between(0, 6) }, () => text(3)));
  };
  const json = (kind: string, body: string, extra: Partial<FuzzCase> = {}): FuzzCase => ({ kind, contentType: pick(JSON_TYPES), body, ...extra });

  const cases: FuzzCase[] = [
    json("empty body", "", { status: 400, message: /empty/ }),
    json("whitespace body", " \n\t ", { status: 400, message: /JSON/ }),
    ...["[]", '[{"prompt":"a"}]', '"prompt"', "42", "null", "true", NESTED_ARRAYS].map((top) =>
      json(`top-level ${top.slice(0, 20)}`, top, { status: 400, message: /JSON object/ })),
    json("NaN literal", withField(fields[2], "NaN"), { status: 400, message: /JSON/ }),
    json("Infinity literal", withField(fields[2], "Infinity"), { status: 400, message: /JSON/ }),
    json("trailing comma", withField("prompt", '"a",'), { status: 400, message: /JSON/ }),
    json("single quotes", "{'prompt':'a'}", { status: 400, message: /JSON/ }),
    json("comment", `/* hi */${withField("prompt", '"a"')}`, { status: 400, message: /JSON/ }),
    json("duplicate key, bad last", `{"prompt":"a","prompt":5${route === "completions" ? `,"model":${JSON.stringify(modelName)}` : ""}}`, { status: 400, field: "prompt" }),
    json("duplicate key, good last", `{"prompt":5,"prompt":"a"${route === "completions" ? `,"model":${JSON.stringify(modelName)}` : ""}}`),
    json("deep nesting as a field", withField("prompt", NESTED_ARRAYS), { status: 400, field: "prompt" }),
    json("prompt beyond the context window", withField("prompt", JSON.stringify(" hello".repeat(3000))), { status: 400, field: "prompt", message: /context window/ }),
    // As large as the body limit allows: rejected after bounded tokenizer work, not after seconds.
    ...singlePiecePrompts(maxBodyBytes - withField("prompt", '""').length).map(([label, prompt]) =>
      json(`one ${label} piece filling MAX_BODY_BYTES`, withField("prompt", JSON.stringify(prompt)), { status: 400, field: "prompt", message: /context window/ })),
    json("body above MAX_BODY_BYTES", withField("prompt", JSON.stringify("x".repeat(maxBodyBytes))), { status: 413, message: /larger than/ }),
    json("body above MAX_BODY_BYTES, chunked", withField("prompt", JSON.stringify("x".repeat(maxBodyBytes))), { chunked: true, status: 413, message: /larger than/ }),
    json("small body, chunked", withField("prompt", '"chunked"'), { chunked: true }),
    json("BOM before the JSON", "\ufeff" + withField("prompt", '"a"')),
    { kind: "no Content-Type", contentType: null, body: withField("prompt", '"a"'), status: 415, message: /Content-Type/ },
    ...WRONG_TYPES.map((type): FuzzCase => ({ kind: `Content-Type ${type}`, contentType: type, body: withField("prompt", '"a"'), status: 415, message: /Content-Type/ })),
    ...ODD_KEYS.map((key) => json(`odd key ${JSON.stringify(key)}`, withField(key, '{"polluted":1}'), { status: 400, field: key, message: /unknown field/ })),
    ...UNICODE.map((u) => json(`prompt ${JSON.stringify(u)}`, withField("prompt", JSON.stringify(`x${u}y${u}`)))),
    json("lone surrogates as escapes", withField("prompt", '"\\ud800\\udbff\\udfff a \\udc00"')),
    json("raw control character in a string", withField("prompt", '"a\u0001b"'), { status: 400, message: /JSON/ }),
    // Hugging Face's legal values beyond the vocabulary and the context: top_k is clamped, a
    // longer n-gram than the text bans nothing. Both once answered 500.
    ...(route === "generate" ? [
      json("top_k beyond the vocabulary", object([...Object.entries(base), ["do_sample", "true"], ["top_k", "60000"]]), { status: 200 }),
      json("no_repeat_ngram_size beyond the context", withField("no_repeat_ngram_size", "2000"), { status: 200 }),
    ] : []),
    // JSON.parse keeps "__proto__" as an own key; a record validator would drop it silently.
    json("logit_bias with a __proto__ key", withField("logit_bias", '{"__proto__":5}'), { status: 400, field: "logit_bias", message: /token ids/ }),
  ];
  for (const bytes of [[0x80], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82]]) {
    const [head, tail] = withField("prompt", '"ab"').split("ab");
    cases.push({ kind: `invalid UTF-8 ${bytes.map((b) => b.toString(16))}`, contentType: "application/json",
      body: concat(encoder.encode(head + "a"), new Uint8Array(bytes), encoder.encode("b" + tail)), status: 400, message: /UTF-8/ });
  }

  while (cases.length < count) {
    const r = random();
    if (r < 0.55) {
      // One field hostile, the rest valid: a 400 must name that field.
      const key = random() < 0.9 ? pick(fields) : pick(ODD_KEYS);
      cases.push(json(`field ${JSON.stringify(key)}`, withField(key, value()), { field: key }));
    } else if (r < 0.8) {
      // Several fields at once: anything may be wrong, the answer must still be well formed.
      const entries = Object.entries(base).filter(() => random() < 0.7);
      for (let i = between(1, 5); i > 0; i--) entries.push([pick(fields), value()]);
      cases.push(json("several fields", object(entries)));
    } else if (r < 0.9) {
      const valid = withField("prompt", JSON.stringify(text(20)));
      const cut = between(0, valid.length - 1);
      cases.push(json("truncated JSON", valid.slice(0, cut), { status: 400 }));
    } else {
      const valid = encoder.encode(withField("prompt", JSON.stringify("pad" + text(10))));
      const at = between(9, valid.length - 2);
      const junk = Uint8Array.from({ length: between(1, 4) }, () => between(0x80, 0xff));
      // Often invalid UTF-8, sometimes a valid character by chance: only the general rules apply.
      cases.push({ kind: "random high bytes", contentType: "application/json", body: concat(valid.slice(0, at), junk, valid.slice(at)) });
    }
  }
  return cases;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
