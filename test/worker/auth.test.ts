// Access control on the generation routes: API keys (Worker secret API_KEYS), rate limiting
// through the real Rate Limiting binding (a tight one from vitest.config.ts), and prompts kept out
// of the logs unless LOG_PROMPTS="1".
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import app from "../../src/index";
import { envFor } from "./helpers";

const MODEL = "synthetic-int8";
const KEYS = "first-key-123,second-key-456";
const keyed = { ...envFor(MODEL), API_KEYS: KEYS } as Env;
const tight = { ...envFor(MODEL), RATE_LIMITER: (env as unknown as { TEST_TIGHT_RATE_LIMITER: RateLimit }).TEST_TIGHT_RATE_LIMITER } as Env;
const tightKeyed = { ...tight, API_KEYS: KEYS } as Env;

function post(path: string, body: unknown, environment: Env, headers: Record<string, string> = {}) {
  return app.request(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }, environment);
}
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
// Limiter state lives as long as the test runtime: every test uses addresses of its own.
const uniqueIp = () => `test-client-${crypto.randomUUID()}`;

describe("API keys", () => {
  it("without API_KEYS, no key is needed", async () => {
    expect((await post("/v1/generate", { prompt: "x", max_new_tokens: 1 }, envFor(MODEL))).status).toBe(200);
  });

  it("with API_KEYS, a missing or wrong key is 401 JSON; any configured key works", async () => {
    const missing = await post("/v1/generate", { prompt: "x", max_new_tokens: 1 }, keyed);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");
    expect(await missing.json()).toMatchObject({ error: { type: "authentication_error", message: expect.stringMatching(/Authorization: Bearer/) } });

    for (const wrong of ["first-key-12", "first-key-1234", "second-key-456 extra", "Basic abc"]) {
      const response = await post("/v1/generate", { prompt: "x", max_new_tokens: 1 }, keyed, { Authorization: wrong.startsWith("Basic") ? wrong : `Bearer ${wrong}` });
      expect(response.status, wrong).toBe(401);
    }
    for (const key of KEYS.split(",")) {
      expect((await post("/v1/generate", { prompt: "x", max_new_tokens: 1 }, keyed, bearer(key))).status).toBe(200);
    }
  });

  it("/v1/completions answers 401 in OpenAI's shape (code invalid_api_key)", async () => {
    const response = await post("/v1/completions", { model: "synthetic-int8", prompt: "x" }, keyed, bearer("nope"));
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { message: "the API key is not valid", type: "authentication_error", param: null, code: "invalid_api_key", request_id: response.headers.get("x-request-id") },
    });
  });

  it("discovery routes, the page, the client and CORS preflights need no key", async () => {
    for (const path of ["/health", "/v1/info", "/v1/models", "/openapi.json", "/", "/client.js"]) {
      expect((await app.request(path, {}, keyed)).status, path).toBe(200);
    }
    const preflight = await app.request("/v1/generate", {
      method: "OPTIONS",
      headers: { Origin: "https://site.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" },
    }, keyed);
    expect(preflight.status).toBe(204);
  });
});

describe("rate limiting (RATE_LIMITER binding)", () => {
  it("counts per client IP and answers 429 with Retry-After once the limit is spent", async () => {
    const ip = uniqueIp();
    // Invalid bodies are cheap and still count: the limit applies before any work.
    for (let i = 0; i < 2; i++) expect((await post("/v1/generate", {}, tight, { "CF-Connecting-IP": ip })).status).toBe(400);
    const limited = await post("/v1/generate", { prompt: "x" }, tight, { "CF-Connecting-IP": ip });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect(await limited.json()).toMatchObject({ error: { type: "rate_limit_exceeded" } });
    // OpenAI's route shares the budget and speaks OpenAI's error shape.
    const openai = await post("/v1/completions", { model: "m", prompt: "x" }, tight, { "CF-Connecting-IP": ip });
    expect(openai.status).toBe(429);
    expect(await openai.json()).toMatchObject({ error: { code: "rate_limit_exceeded" } });
    // Another client is not affected.
    expect((await post("/v1/generate", {}, tight, { "CF-Connecting-IP": uniqueIp() })).status).toBe(400);
  });

  it("with API keys, counts per key whatever the IP", async () => {
    const key = KEYS.split(",")[1];
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post("/v1/generate", {}, tightKeyed, { ...bearer(key), "CF-Connecting-IP": uniqueIp() })).status);
    expect(statuses).toEqual([400, 400, 429]);
    // The other key still has its budget.
    expect((await post("/v1/generate", {}, tightKeyed, bearer(KEYS.split(",")[0]))).status).toBe(400);
  });
});

describe("logging", () => {
  afterEach(() => vi.restoreAllMocks());

  async function logsOf(environment: Env, prompt: string): Promise<string> {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    const response = await post("/v1/generate", { prompt, max_new_tokens: 3 }, environment);
    const body = (await response.json()) as { generations: { text: string }[] };
    return JSON.stringify({ lines, output: body.generations[0].text });
  }

  it("keeps prompts and outputs out of the logs by default, logs them with LOG_PROMPTS=1", async () => {
    const secret = "my private prompt 8472";
    const quiet = JSON.parse(await logsOf(envFor(MODEL), secret)) as { lines: string[] };
    expect(quiet.lines.length).toBeGreaterThan(0);
    expect(quiet.lines.join("\n")).not.toContain("8472");

    const loud = JSON.parse(await logsOf(envFor(MODEL, { LOG_PROMPTS: "1" }), secret)) as { lines: string[]; output: string };
    const line = JSON.parse(loud.lines.find((l) => l.includes('"event":"generation"'))!) as { prompt: string; outputs: string[] };
    expect(line.prompt).toBe(secret);
    expect(line.outputs).toEqual([loud.output]);
  });
});
