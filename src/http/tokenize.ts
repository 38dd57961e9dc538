// POST /v1/tokenize and POST /v1/detokenize: GPT-2's tokenizer on its own, so a page can count a
// prompt's tokens (or show them) before it sends it. The shape follows llama.cpp's /tokenize
// (`with_pieces`) and TGI's /tokenize: ids, their count, and per token its id, its text and its
// bytes — GPT-2 tokens are bytes, and a token inside a multi-byte character has no text of its own
// (text null; its bytes say which part it is).
//
//   POST /v1/tokenize   {"text": "Héllo"}  → {"count": 3, "ids": [...], "tokens": [{"id", "text", "bytes"}]}
//   POST /v1/detokenize {"tokens": [15496]} → {"text": "Hello"}
//
// Both are bounded whatever the model: the body by MAX_BODY_BYTES, and the tokens by
// MAX_TOKENIZE_TOKENS (the tokenizer stops as soon as the text is longer, see encodeWithin).
import type { Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { badRequest } from "../errors";
import { decode, encodeWithin, tokenToBytes, VOCAB_SIZE } from "../tokenizer/index";
import { readJsonBody } from "./body";
import { int, parseOrThrow, strictError } from "./fields";

/** Most tokens one call takes or returns: 16 times GPT-2's largest context window. */
export const MAX_TOKENIZE_TOKENS = 16_384;

const DOCS = "see GET /openapi.json";

export const tokenizeRequest = z.strictObject(
  { text: z.string({ error: "text is required and must be a string" }).meta({ description: "Text to tokenize exactly as a prompt would be." }) },
  strictError,
);

export const detokenizeRequest = z.strictObject(
  {
    tokens: z
      .array(int("tokens[i]", 0, VOCAB_SIZE - 1), { error: "tokens is required and must be an array of token ids" })
      .max(MAX_TOKENIZE_TOKENS, { error: `tokens takes at most ${MAX_TOKENIZE_TOKENS} ids` }),
  },
  strictError,
);

export const tokenizeResponse = z.strictObject({
  count: z.int(),
  ids: z.array(z.int()),
  tokens: z.array(z.strictObject({
    id: z.int(),
    text: z.string().nullable().meta({ description: "The token's text; null when its bytes are only part of a character." }),
    bytes: z.array(z.int()).meta({ description: "The token's UTF-8 bytes." }),
  })),
});

export const detokenizeResponse = z.strictObject({
  text: z.string().meta({ description: "Invalid UTF-8 (a cut character) becomes U+FFFD, as Hugging Face's decode does." }),
});

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function tokenDetails(id: number) {
  const bytes = tokenToBytes(id);
  let text: string | null;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = null;
  }
  return { id, text, bytes: Array.from(bytes) };
}

export function tokenizeBody(text: string): z.infer<typeof tokenizeResponse> {
  const encoded = encodeWithin(text, MAX_TOKENIZE_TOKENS);
  if (!encoded.fits) throw badRequest(`text is more than ${MAX_TOKENIZE_TOKENS} tokens; send it in parts`, "text");
  return { count: encoded.ids.length, ids: encoded.ids, tokens: encoded.ids.map(tokenDetails) };
}

export async function handleTokenize(c: Context<AppEnv>): Promise<Response> {
  const { text } = parseOrThrow(tokenizeRequest, await readJsonBody(c.req.raw, c.var.config.limits.maxBodyBytes), DOCS);
  return c.json(tokenizeBody(text));
}

export async function handleDetokenize(c: Context<AppEnv>): Promise<Response> {
  const { tokens } = parseOrThrow(detokenizeRequest, await readJsonBody(c.req.raw, c.var.config.limits.maxBodyBytes), DOCS);
  return c.json({ text: decode(tokens) });
}
