// The HTTP contract of POST /v1/generate and GET /health, inside workerd with a real (small,
// synthetic) converted model.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { envFor, generateJson, postJson } from "./helpers";

const MODEL = "synthetic-int8";

async function errorOf(response: Response) {
  return { status: response.status, ...((await response.json()) as { error: { type: string; message: string; param: string | null } }).error };
}

describe("POST /v1/generate", () => {
  it("answers the README's curl example through the deployed entry point and the default model", async () => {
    const response = await exports.default.fetch("http://localhost/v1/generate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Once upon a time", max_length: 50, no_repeat_ngram_size: 2 }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { generations: { token_ids: number[]; text: string; finish_reason: string }[]; usage: Record<string, number> };
    expect(body.usage.prompt_tokens).toBe(4);
    expect(body.generations[0].token_ids.length).toBeGreaterThan(0);
    expect(body.generations[0].token_ids.length + 4).toBeLessThanOrEqual(50);
    expect(body.generations[0].text.length).toBeGreaterThan(0);
  });

  it("returns the documented response shape", async () => {
    const body = await generateJson({ prompt: "Hi", max_new_tokens: 3 }, MODEL);
    expect(Object.keys(body).sort()).toEqual(["generations", "model", "timings", "usage"]);
    expect(body.generations[0]).toMatchObject({ index: 0, finish_reason: "length" });
    expect(body.usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4, cached_tokens: 0 });
    for (const key of ["queue_ms", "tokenize_ms", "prefill_ms", "decode_ms", "total_ms", "decode_steps"]) {
      expect(typeof body.timings[key], key).toBe("number");
    }
  });

  it("same request + seed gives the same text; num_return_sequences returns distinct samples", async () => {
    // cache: false — the second answer must come from the model, not the response cache.
    const request = { prompt: "The weather", do_sample: true, top_k: 0, temperature: 1.5, seed: 42, num_return_sequences: 3, max_new_tokens: 8, cache: false };
    const a = await generateJson(request, MODEL);
    const b = await generateJson(request, MODEL);
    expect(a.generations).toEqual(b.generations);
    expect(a.seed).toBe(42);
    expect(new Set(a.generations.map((g) => g.token_ids.join())).size).toBeGreaterThan(1);
    const other = await generateJson({ ...request, seed: 43 }, MODEL);
    expect(other.generations).not.toEqual(a.generations);
  });

  it("reports the seed it drew when none was given, and that seed reproduces the text", async () => {
    const request = { prompt: "Seeds", do_sample: true, top_k: 0, temperature: 1.5, max_new_tokens: 6 };
    const first = await generateJson(request, MODEL);
    expect(Number.isInteger(first.seed)).toBe(true);
    const again = await generateJson({ ...request, seed: first.seed, cache: false }, MODEL);
    expect(again.generations).toEqual(first.generations);
  });

  it("an empty prompt starts from <|endoftext|>, as Hugging Face does", async () => {
    const body = await generateJson({ prompt: "", max_new_tokens: 2 }, MODEL);
    expect(body.usage.prompt_tokens).toBe(1);
  });

  it("cuts the text at a stop string and does not return it", async () => {
    const full = await generateJson({ prompt: "Stop", max_new_tokens: 12 }, MODEL);
    const text = full.generations[0].text;
    const stop = text.slice(3, 6);
    const cut = await generateJson({ prompt: "Stop", max_new_tokens: 12, stop }, MODEL);
    expect(cut.generations[0].text).toBe(text.slice(0, text.indexOf(stop)));
    expect(cut.generations[0].finish_reason).toBe("stop");
  });

  it("ends with finish_reason time when the wall-clock budget is spent mid-generation", async () => {
    const slow = { prompt: "Slow", max_new_tokens: 512, min_new_tokens: 512, do_sample: true, num_return_sequences: 8, cache: false };
    // tiny-a: a 1024-token window, so 8 × 512 steps certainly outlast 1.5 s.
    const response = await postJson("/v1/generate", slow, "tiny-a-int8", { GENERATION_TIMEOUT_MS: "1500" });
    const body = (await response.json()) as { generations: { finish_reason: string; token_ids: number[] }[] };
    expect(response.status).toBe(200);
    expect(body.generations[0].finish_reason).toBe("time");
    expect(body.generations[0].token_ids.length).toBeLessThan(512);
  });

  it("a budget spent before the request could start is a 503 to retry, not an empty success", async () => {
    const response = await postJson("/v1/generate", { prompt: "Late", max_new_tokens: 40, cache: false }, MODEL, { GENERATION_TIMEOUT_MS: "1" });
    expect(await errorOf(response)).toMatchObject({ status: 503, type: "overloaded" });
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it.each(["tiny-a-fp32", MODEL])("concurrent requests in one isolate are batched and do not interfere (%s)", async (model) => {
    const prompts = ["alpha", "beta beta", "gamma 👋", "delta", "epsilon zeta", "eta"];
    // cache: false — answers must come from batched generation, not the response cache.
    const request = (prompt: string, i: number) => ({ prompt, max_new_tokens: 10, do_sample: i % 2 === 0, top_k: 0, seed: i, cache: false });
    const alone = [];
    for (const [i, p] of prompts.entries()) alone.push(await generateJson(request(p, i), model));
    const together = await Promise.all(prompts.map((p, i) => generateJson(request(p, i), model)));
    for (const r of [...alone, ...together]) expect(r.timings.cache).toBe("model");
    expect(together.map((r) => r.generations)).toEqual(alone.map((r) => r.generations));
  });
});

describe("bad input gets a JSON error naming the field, never a 5xx", () => {
  const cases: [string, unknown, string | null, RegExp][] = [
    ["missing prompt", { max_new_tokens: 3 }, "prompt", /prompt is required/],
    ["prompt of the wrong type", { prompt: 5 }, "prompt", /string/],
    ["unknown field", { prompt: "x", top_q: 0.5 }, "top_q", /unknown field.*top_q/],
    ["top_p out of range", { prompt: "x", top_p: 1.5 }, "top_p", /top_p must be a number in \(0, 1\]/],
    ["top_p zero", { prompt: "x", top_p: 0 }, "top_p", /a number in \(0, 1\]/],
    ["temperature zero", { prompt: "x", temperature: 0, do_sample: true }, "temperature", /a number in \(0, 100\]/],
    ["negative top_k", { prompt: "x", top_k: -1 }, "top_k", /an integer in \[0, 2147483647\]/],
    ["fractional max_new_tokens", { prompt: "x", max_new_tokens: 2.5 }, "max_new_tokens", /integer from 1 to 512/],
    ["max_new_tokens above the cap", { prompt: "x", max_new_tokens: 100000 }, "max_new_tokens", /integer from 1 to 512/],
    ["string number", { prompt: "x", max_new_tokens: "10" }, "max_new_tokens", /integer/],
    ["do_sample not boolean", { prompt: "x", do_sample: "yes" }, "do_sample", /true or false/],
    ["seed too big", { prompt: "x", seed: 2 ** 40 }, "seed", /seed must be an integer from 0 to 4294967295/],
    ["stop list too long", { prompt: "x", stop: ["a", "b", "c", "d", "e"] }, "stop", /at most 4/],
    ["empty stop string", { prompt: "x", stop: [""] }, "stop[0]", /must not be empty/],
    ["greedy with several sequences", { prompt: "x", num_return_sequences: 2 }, "num_return_sequences", /do_sample/],
    ["max_length not above the prompt", { prompt: "one two three four", max_length: 4 }, "max_length", /already 4 tokens/],
    ["max_length beyond the context window", { prompt: "x", max_length: 65 }, "max_length", /context window of 64/],
    ["prompt + max_new_tokens beyond the window", { prompt: Array(40).fill("x").join(" "), max_new_tokens: 30 }, "max_new_tokens", /\(40 tokens\) \+ max_new_tokens \(30\) exceeds the context window of 64/],
    ["prompt that fills the window", { prompt: Array(70).fill("x").join(" ") }, "prompt", /prompt is more than 63 tokens; the model.s context window is 64 tokens/],
  ];
  it.each(cases)("%s → 400", async (_label, body, param, message) => {
    const error = await errorOf(await postJson("/v1/generate", body, MODEL));
    expect(error).toMatchObject({ status: 400, type: "invalid_request_error", param });
    expect(error.message).toMatch(message);
  });

  const raw = (body: BodyInit | null, headers: Record<string, string>) =>
    app.request("/v1/generate", { method: "POST", headers, body }, envFor(MODEL));

  it("invalid JSON → 400", async () => {
    expect(await errorOf(await raw("{\"prompt\": ", { "content-type": "application/json" }))).toMatchObject({ status: 400, message: expect.stringMatching(/not valid JSON/) });
  });
  it("a JSON array → 400", async () => {
    expect(await errorOf(await raw("[1]", { "content-type": "application/json" }))).toMatchObject({ status: 400, message: expect.stringMatching(/JSON object/) });
  });
  it("empty body → 400", async () => {
    expect(await errorOf(await raw("", { "content-type": "application/json" }))).toMatchObject({ status: 400, message: expect.stringMatching(/empty/) });
  });
  it("wrong content type → 415", async () => {
    expect(await errorOf(await raw("prompt=x", { "content-type": "application/x-www-form-urlencoded" }))).toMatchObject({ status: 415, type: "unsupported_media_type" });
  });
  it("oversized body → 413, declared or streamed", async () => {
    const big = JSON.stringify({ prompt: "x".repeat(200_000) });
    expect((await errorOf(await raw(big, { "content-type": "application/json" }))).status).toBe(413);
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } });
    expect((await errorOf(await raw(stream, { "content-type": "application/json" }))).status).toBe(413);
  });
  it("invalid UTF-8 → 400", async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]);
    expect(await errorOf(await raw(bytes, { "content-type": "application/json" }))).toMatchObject({ status: 400, message: expect.stringMatching(/UTF-8/) });
  });
  it("GET /v1/generate → 405 JSON, unknown route → 404 JSON", async () => {
    const get = await app.request("/v1/generate", {}, envFor(MODEL));
    expect(await errorOf(get)).toMatchObject({ status: 405, type: "method_not_allowed" });
    expect(await errorOf(await app.request("/nope", {}, envFor(MODEL)))).toMatchObject({ status: 404, type: "not_found" });
  });
});

describe("GET /health and model failures", () => {
  it("200 with the model and limits when the model loads", async () => {
    const response = await app.request("/health", {}, envFor(MODEL));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", model: { name: "synthetic-int8", dtype: "int8", context_window: 64 } });
  });

  it("503 with the reason when the model files are missing, for /health and generation alike; recovers after", async () => {
    const missing = "fetcher:TEST_MODELS/no-such-model";
    const health = await app.request("/health", {}, envFor(missing));
    expect(health.status).toBe(503);
    expect(((await health.json()) as { reason: string }).reason).toMatch(/no-such-model\/manifest.json: HTTP 404/);
    const generation = await postJson("/v1/generate", { prompt: "x" }, missing);
    expect(await errorOf(generation)).toMatchObject({ status: 503, type: "model_unavailable" });
    // The failed load backs off (MODEL_RETRY_MS, 1 s at first): Retry-After says when the next try is.
    expect(generation.headers.get("retry-after")).toBe("1");
    // Bad input is still a 400 while the model is down.
    expect((await postJson("/v1/generate", { prompt: 1 }, missing)).status).toBe(400);
    expect((await app.request("/health", {}, envFor(MODEL))).status).toBe(200);
  });
});
