// Tokenizing one request must not stall the isolate: a prompt that is one pre-tokenized piece as
// large as MAX_BODY_BYTES allows is answered 400 (it cannot fit the context window) after bounded
// tokenizer work, and a /health sent at the same time is answered just as fast. With a BPE merge
// that rescans every pair, each of these took 10-40 s here and held /health for as long.
// (Such a piece cannot fit a window even at 128 bytes per token, so it is not even merged; the
// merge itself, on the same pieces, is timed in workerd at the end.)
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { encode } from "../../src/tokenizer/index";
import { singlePiecePrompts } from "./fuzz-bodies";
import { envFor, generateJson } from "./helpers";

const MODEL = "synthetic-int8"; // context window 64
const MAX_BODY_BYTES = 131072;
// Generous: the bounded tokenizer needs well under 100 ms here; the quadratic one needed ~10 s.
const BOUND_MS = 3_000;

async function timed<T>(started: number, work: T | Promise<T>): Promise<{ value: T; ms: number }> {
  const value = await work;
  return { value, ms: Date.now() - started };
}

describe("tokenizer work per request", () => {
  const overhead = JSON.stringify({ prompt: "" }).length;

  it.each(singlePiecePrompts(MAX_BODY_BYTES - overhead))("a body of one %s piece filling MAX_BODY_BYTES gets its 400 quickly, and /health is not held up", async (_label, prompt) => {
    await generateJson({ prompt: "Hi", max_new_tokens: 1 }, MODEL); // the model is loaded before the clock starts
    const env = envFor(MODEL);
    const body = JSON.stringify({ prompt });
    expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(MAX_BODY_BYTES);

    const started = Date.now();
    const rejecting = timed(started, app.request("/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body }, env));
    // /health arrives while the prompt is being tokenized: a timer cannot fire before that work yields.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const health = await timed(started, app.request("/health", {}, env));
    const rejected = await rejecting;

    expect(rejected.value.status).toBe(400);
    const { error } = (await rejected.value.json()) as { error: { param: string; message: string } };
    expect(error).toMatchObject({ param: "prompt", message: expect.stringMatching(/prompt is more than 63 tokens; the model's context window is 64 tokens/) });
    expect(health.value.status).toBe(200);
    expect(rejected.ms).toBeLessThan(BOUND_MS);
    expect(health.ms).toBeLessThan(BOUND_MS);
  });

  it.each(singlePiecePrompts(MAX_BODY_BYTES))("merging one 128 KiB %s piece to the end takes well under the bound in workerd", (_label, prompt) => {
    const started = Date.now();
    const ids = encode(prompt);
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
    expect(ids.length).toBeGreaterThan(MAX_BODY_BYTES / 128);
  });
});
