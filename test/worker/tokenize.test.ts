// POST /v1/tokenize and /v1/detokenize through the Worker: the same ids a prompt gets, per-token
// text and bytes, 400s naming the field, bounds, access control, and /openapi.json.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { MAX_TOKENIZE_TOKENS } from "../../src/http/tokenize";
import { encode } from "../../src/tokenizer/index";
import { envFor, generateJson } from "./helpers";

const MODEL = "synthetic-int8";
const post = (path: string, body: unknown, environment: Env = envFor(MODEL), headers: Record<string, string> = {}) =>
  app.request(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) }, environment);

interface TokenizeBody { count: number; ids: number[]; tokens: { id: number; text: string | null; bytes: number[] }[] }

describe("POST /v1/tokenize", () => {
  it("gives the ids a prompt gets, their count, and each token's text and bytes", async () => {
    const response = await post("/v1/tokenize", { text: "Hello world" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      count: 2,
      ids: [15496, 995],
      tokens: [
        { id: 15496, text: "Hello", bytes: [72, 101, 108, 108, 111] },
        { id: 995, text: " world", bytes: [32, 119, 111, 114, 108, 100] },
      ],
    });
    // The same ids /v1/generate counts as the prompt.
    const prompt = "Once upon a time, in a land far away<|endoftext|>";
    const tokenized = (await (await post("/v1/tokenize", { text: prompt })).json()) as TokenizeBody;
    expect(tokenized.ids).toEqual(encode(prompt));
    const generated = await generateJson({ prompt, max_new_tokens: 1 }, MODEL);
    expect(generated.usage.prompt_tokens).toBe(tokenized.count);
  });

  it("README's example: the llama's four bytes split over three tokens", async () => {
    expect(await (await post("/v1/tokenize", { text: "Hi 🦙" })).json()).toEqual({
      count: 4,
      ids: [17250, 12520, 99, 247],
      tokens: [
        { id: 17250, text: "Hi", bytes: [72, 105] },
        { id: 12520, text: null, bytes: [32, 240, 159] },
        { id: 99, text: null, bytes: [166] },
        { id: 247, text: null, bytes: [153] },
      ],
    });
  });

  it("a token inside a multi-byte character has null text; its bytes add up to the UTF-8 text", async () => {
    const text = "🦙 llama 日本語";
    const body = (await (await post("/v1/tokenize", { text })).json()) as TokenizeBody;
    expect(body.tokens.some((t) => t.text === null)).toBe(true);
    expect(new TextDecoder().decode(new Uint8Array(body.tokens.flatMap((t) => t.bytes)))).toBe(text);
    for (const token of body.tokens) if (token.text !== null) expect(new TextEncoder().encode(token.text)).toEqual(new Uint8Array(token.bytes));
  });

  it("an empty text is zero tokens", async () => {
    expect(await (await post("/v1/tokenize", { text: "" })).json()).toEqual({ count: 0, ids: [], tokens: [] });
  });

  it.each([
    [{}, "text", /text is required/],
    [{ text: 5 }, "text", /text is required and must be a string/],
    [{ text: "x", extra: 1 }, "extra", /unknown field/],
    [{ prompt: "x" }, "text", /text is required/],
  ])("%j → 400 naming %s", async (body, param, message) => {
    const response = await post("/v1/tokenize", body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { type: "invalid_request_error", param, message: expect.stringMatching(message) } });
  });

  it("is bounded: more than MAX_TOKENIZE_TOKENS is a 400 (the tokenizer stops early), bodies above MAX_BODY_BYTES a 413", async () => {
    // Single-letter words separated by spaces: one token each, well within MAX_BODY_BYTES.
    const long = "a ".repeat(MAX_TOKENIZE_TOKENS + 1);
    const started = Date.now();
    const response = await post("/v1/tokenize", { text: long });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { param: "text", message: `text is more than ${MAX_TOKENIZE_TOKENS} tokens; send it in parts` } });
    expect(Date.now() - started).toBeLessThan(5_000);
    const fits = (await (await post("/v1/tokenize", { text: Array(MAX_TOKENIZE_TOKENS).fill("a").join(" ") })).json()) as TokenizeBody;
    expect(fits.count).toBe(MAX_TOKENIZE_TOKENS);
    expect((await post("/v1/tokenize", { text: "x".repeat(131073) })).status).toBe(413);
  });
});

describe("POST /v1/detokenize", () => {
  it("turns ids back into text (a cut character becomes U+FFFD)", async () => {
    expect(await (await post("/v1/detokenize", { tokens: [15496, 995] })).json()).toEqual({ text: "Hello world" });
    const ids = encode("日本");
    expect(await (await post("/v1/detokenize", { tokens: ids })).json()).toEqual({ text: "日本" });
    expect(await (await post("/v1/detokenize", { tokens: ids.slice(0, 1) })).json()).toMatchObject({ text: expect.stringContaining("\uFFFD") });
    expect(await (await post("/v1/detokenize", { tokens: [] })).json()).toEqual({ text: "" });
  });

  it.each([
    [{}, "tokens"],
    [{ tokens: "15496" }, "tokens"],
    [{ tokens: [1, -1] }, "tokens[1]"],
    [{ tokens: [50257] }, "tokens[0]"],
    [{ tokens: [1.5] }, "tokens[0]"],
    [{ tokens: Array(MAX_TOKENIZE_TOKENS + 1).fill(0) }, "tokens"],
  ])("%# → 400 naming %s", async (body, param) => {
    const response = await post("/v1/detokenize", body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { param: string } }).error.param).toBe(param);
  });
});

describe("access control and the API description", () => {
  it("needs the API key when API_KEYS is set, and is rate limited like generation", async () => {
    const keyed = { ...envFor(MODEL), API_KEYS: "tok-key-1" } as Env;
    expect((await post("/v1/tokenize", { text: "x" }, keyed)).status).toBe(401);
    expect((await post("/v1/detokenize", { tokens: [1] }, keyed)).status).toBe(401);
    expect((await post("/v1/tokenize", { text: "x" }, keyed, { Authorization: "Bearer tok-key-1" })).status).toBe(200);
    const tight = { ...envFor(MODEL), RATE_LIMITER: (env as unknown as { TEST_TIGHT_RATE_LIMITER: RateLimit }).TEST_TIGHT_RATE_LIMITER } as Env;
    const ip = { "CF-Connecting-IP": `tokenize-${crypto.randomUUID()}` };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post("/v1/tokenize", { text: "x" }, tight, ip)).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("GET on them is 405; /openapi.json describes both", async () => {
    const get = await app.request("/v1/tokenize", {}, envFor(MODEL));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const doc = (await (await app.request("/openapi.json", {}, envFor(MODEL))).json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, { required?: string[] }> } };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/tokenize", "/v1/detokenize"]));
    expect(doc.components.schemas.TokenizeRequest.required).toEqual(["text"]);
    expect(doc.components.schemas.DetokenizeRequest.required).toEqual(["tokens"]);
  });
});
