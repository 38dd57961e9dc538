// Request ids, Server-Timing, structured logs and the optional Analytics Engine data points,
// through the Worker in workerd.
import { afterEach, describe, expect, it, vi } from "vitest";
import app from "../../src/index";
import { envFor } from "./helpers";
import { readEvents } from "./sse-helpers";

const MODEL = "synthetic-int8";
let unique = 0;
const freshPrompt = () => `observability ${++unique} ${Math.random()}`;

const request = (path: string, init: RequestInit, environment: Env = envFor(MODEL)) => app.request(path, init, environment);
const post = (path: string, body: unknown, headers: Record<string, string> = {}, environment?: Env) =>
  request(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }, environment);

/** Server-Timing's metrics by name: {tokenize: "dur=0.4", cache: 'desc="miss"'}. */
function timingMetrics(header: string | null): Record<string, string> {
  expect(header).not.toBeNull();
  return Object.fromEntries(header!.split(", ").map((part) => {
    const [name, ...params] = part.split(";");
    return [name, params.join(";")];
  }));
}

/** A fake Workers Analytics Engine binding: the data points written to it. */
function fakeAnalytics() {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, binding: { writeDataPoint: (point?: AnalyticsEngineDataPoint) => void points.push(point!) } };
}

describe("x-request-id", () => {
  it("every response carries one: the client's when sane, a new one otherwise", async () => {
    const echoed = await request("/health", { headers: { "x-request-id": "trace-42.abc:7" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-42.abc:7");
    for (const sent of [undefined, "", "has space", "x".repeat(129), "quote\"d", "semi;colon"]) {
      const response = await request("/v1/info", { headers: sent === undefined ? {} : { "x-request-id": sent } });
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
    const first = await request("/v1/info", {});
    const second = await request("/v1/info", {});
    expect(first.headers.get("x-request-id")).not.toBe(second.headers.get("x-request-id"));
    // Preflights and static files too.
    const preflight = await request("/v1/generate", { method: "OPTIONS", headers: { Origin: "https://a.example", "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect((await request("/client.js", {})).headers.get("x-request-id")).toBeTruthy();
  });

  it("error bodies carry it, in the native and the OpenAI shape", async () => {
    const native = await post("/v1/generate", { prompt: "x", top_p: 2 }, { "x-request-id": "bad-top-p" });
    expect(native.status).toBe(400);
    expect(await native.json()).toEqual({ error: { type: "invalid_request_error", message: expect.any(String), param: "top_p", request_id: "bad-top-p" } });
    const openai = await post("/v1/completions", { model: "nope", prompt: "x" });
    expect(openai.status).toBe(404);
    const body = (await openai.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: "not_found", param: "model", code: "model_not_found", request_id: openai.headers.get("x-request-id") });
    const missing = await request("/no/such/route", {});
    expect(((await missing.json()) as { error: { request_id: string } }).error.request_id).toBe(missing.headers.get("x-request-id"));
  });

  it("CORS lets pages read it, Server-Timing and x-cache (and Timing-Allow-Origin follows the allowed origin)", async () => {
    const environment = envFor(MODEL, { CORS_ORIGINS: "https://page.example" });
    const response = await post("/v1/generate", { prompt: "x", max_new_tokens: 1 }, { Origin: "https://page.example" }, environment);
    await response.text();
    const exposed = response.headers.get("access-control-expose-headers")!.toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["x-request-id", "server-timing", "x-cache", "retry-after"]));
    expect(response.headers.get("timing-allow-origin")).toBe("https://page.example");
    const other = await post("/v1/generate", { prompt: "x", max_new_tokens: 1 }, { Origin: "https://other.example" }, environment);
    await other.text();
    expect(other.headers.get("timing-allow-origin")).toBeNull();
  });
});

describe("Server-Timing: what is known when the headers go out", () => {
  it("JSON answered by the engine: tokenize and queue (headers go out when it starts); the body has every phase", async () => {
    const response = await post("/v1/generate", { prompt: freshPrompt(), max_new_tokens: 4, cache: false });
    const metrics = timingMetrics(response.headers.get("server-timing"));
    expect(Object.keys(metrics)).toEqual(["tokenize", "queue", "cache"]);
    expect(metrics.tokenize).toMatch(/^dur=\d+(\.\d)?$/);
    expect(metrics.cache).toBe('desc="bypass"');
    const body = (await response.json()) as { timings: Record<string, number> };
    expect(body.timings.decode_ms).toBeGreaterThanOrEqual(0);
  });

  it("a cache hit is complete before its headers: every phase, and where it came from", async () => {
    const body = { prompt: freshPrompt(), max_new_tokens: 4 };
    await (await post("/v1/generate", body)).text();
    const hit = await post("/v1/generate", body);
    const metrics = timingMetrics(hit.headers.get("server-timing"));
    expect(Object.keys(metrics)).toEqual(["tokenize", "queue", "prefill", "decode", "total", "cache"]);
    expect(metrics.cache).toBe('desc="hit memory"');
    const json = (await hit.json()) as { timings: { total_ms: number } };
    expect(metrics.total).toBe(`dur=${json.timings.total_ms}`);
  });

  it("a stream's headers go out before queueing: tokenize and cache only; /v1/completions likewise", async () => {
    const stream = await post("/v1/generate", { prompt: freshPrompt(), max_new_tokens: 2, stream: true });
    expect(Object.keys(timingMetrics(stream.headers.get("server-timing")))).toEqual(["tokenize", "cache"]);
    await stream.text();
    const completion = await post("/v1/completions", { model: "synthetic-int8", prompt: freshPrompt(), max_tokens: 2, temperature: 0 });
    const metrics = timingMetrics(completion.headers.get("server-timing"));
    expect(Object.keys(metrics)).toEqual(["tokenize", "queue", "cache"]);
    expect(metrics.cache).toBe('desc="miss"');
    await completion.text();
  });
});

describe("logs and Analytics Engine", () => {
  afterEach(() => vi.restoreAllMocks());

  it("one JSON log line per generation with the request id, and one data point when GENERATION_ANALYTICS is bound", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const analytics = fakeAnalytics();
    const environment = { ...envFor(MODEL), GENERATION_ANALYTICS: analytics.binding } as Env;
    const prompt = freshPrompt();
    const response = await post("/v1/generate", { prompt, max_new_tokens: 3 }, { "x-request-id": "req-analytics-1" }, environment);
    const body = (await response.json()) as { usage: { prompt_tokens: number; cached_tokens: number }; timings: Record<string, number> };

    const line = JSON.parse(lines.find((l) => l.includes('"req-analytics-1"'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ event: "generation", request_id: "req-analytics-1", route: "/v1/generate", model: "synthetic-int8", completion_tokens: 3, finish_reasons: ["length"], cache: "miss", cache_source: "model" });
    expect(line).not.toHaveProperty("prompt"); // the users' data stays out unless LOG_PROMPTS=1

    expect(analytics.points).toHaveLength(1);
    const [point] = analytics.points;
    expect(point.indexes).toEqual(["synthetic-int8"]);
    expect(point.blobs).toEqual(["/v1/generate", "synthetic-int8", "miss", "model", "length", "req-analytics-1"]);
    const { timings } = body;
    expect(point.doubles).toEqual([
      body.usage.prompt_tokens, 3, body.usage.cached_tokens, timings.queue_ms, timings.tokenize_ms, timings.prefill_ms, timings.decode_ms, timings.total_ms, timings.decode_steps, 1,
    ]);

    // A replayed hit is a generation too (cache columns say so); OpenAI routes write their route.
    await (await post("/v1/generate", { prompt, max_new_tokens: 3 }, {}, environment)).text();
    await (await post("/v1/completions", { model: "synthetic-int8", prompt: ["a", "b"], max_tokens: 2, temperature: 0 }, {}, environment)).text();
    expect(analytics.points.map((p) => [p.blobs![0], p.blobs![2], p.blobs![3]])).toEqual([
      ["/v1/generate", "miss", "model"],
      ["/v1/generate", "hit", "memory"],
      ["/v1/completions", expect.any(String), expect.any(String)],
      ["/v1/completions", expect.any(String), expect.any(String)],
    ]);
  });

  it("without the binding nothing is written, and a failing binding never fails the request", async () => {
    const broken = { ...envFor(MODEL), GENERATION_ANALYTICS: { writeDataPoint: () => { throw new Error("dataset gone"); } } } as unknown as Env;
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: unknown) => void warnings.push(String(line)));
    const response = await post("/v1/generate", { prompt: freshPrompt(), max_new_tokens: 2 }, { "x-request-id": "broken-analytics" }, broken);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { generations: unknown[] }).generations).toHaveLength(1);
    expect(warnings.map((w) => JSON.parse(w) as Record<string, unknown>)).toContainEqual({ event: "analytics_error", request_id: "broken-analytics", message: "Error: dataset gone" });
  });

  it("server errors are logged as JSON with the request id (503 as a warning)", async () => {
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: unknown) => void warnings.push(String(line)));
    // A model that does not exist: the manifest cannot be read, so the request is answered 503.
    const response = await post("/v1/generate", { prompt: "x" }, { "x-request-id": "no-model" }, envFor("no-such-model"));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { request_id: string } }).error.request_id).toBe("no-model");
    expect(JSON.parse(warnings.find((w) => w.includes("no-model"))!)).toMatchObject({ event: "error", request_id: "no-model", status: 503, type: "model_unavailable" });
  });
});
