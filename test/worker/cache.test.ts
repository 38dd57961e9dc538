// The response cache, request coalescing and prefix reuse, through the Worker in workerd.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { envFor, postJson, type GenerateResponse } from "./helpers";
import { readEvents } from "./sse-helpers";

const MODEL = "synthetic-int8";
let unique = 0;
/** A prompt no other test (or earlier run in this isolate) has sent. */
const freshPrompt = () => `cache test ${++unique} ${Math.random()}`;

async function send(body: Record<string, unknown>, headers: Record<string, string> = {}, vars: Record<string, string> = {}) {
  const response = await app.request(
    "/v1/generate",
    { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) },
    envFor(MODEL, vars),
  );
  const json = (await response.json()) as GenerateResponse & { timings: { cache: string } };
  return { status: response.status, xCache: response.headers.get("x-cache"), json };
}

const withoutTimings = ({ timings: _t, ...rest }: GenerateResponse) => rest;

describe("response cache", () => {
  it("a repeated deterministic request is a hit with an identical body", async () => {
    for (const request of [
      { prompt: freshPrompt(), max_new_tokens: 8 },
      { prompt: freshPrompt(), max_new_tokens: 8, do_sample: true, seed: 7, top_k: 0 },
    ]) {
      const first = await send(request);
      const second = await send(request);
      expect([first.xCache, first.json.timings.cache]).toEqual(["miss", "model"]);
      expect([second.xCache, second.json.timings.cache]).toEqual(["hit", "memory"]);
      expect(withoutTimings(second.json)).toEqual(withoutTimings(first.json));
    }
  });

  it("a sampled request without a seed is never served from the cache", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 8, do_sample: true, top_k: 0, temperature: 2 };
    const [a, b] = [await send(request), await send(request)];
    expect([a.xCache, b.xCache]).toEqual(["bypass", "bypass"]);
    expect(b.json.seed).not.toBe(a.json.seed);
  });

  it("cache: false and Cache-Control: no-store opt out", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 4 };
    expect((await send({ ...request, cache: false })).xCache).toBe("bypass");
    expect((await send(request, { "cache-control": "no-store" })).xCache).toBe("bypass");
    expect((await send(request)).xCache).toBe("miss"); // nothing was stored by the opted-out ones
  });

  it("a different setting or model is a different entry", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 4 };
    await send(request);
    expect((await send({ ...request, max_new_tokens: 5 })).xCache).toBe("miss");
    expect((await send({ ...request, stop: ["zz"] })).xCache).toBe("miss");
    const other = await app.request("/v1/generate", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request),
    }, envFor("tiny-b-int8"));
    expect(other.headers.get("x-cache")).toBe("miss");
  });

  it("other isolates hit through the Cache API (the memory tier disabled here)", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 6 };
    const vars = { RESPONSE_CACHE_BYTES: "0" };
    const first = await send(request, {}, vars);
    const second = await send(request, {}, vars);
    expect([first.xCache, second.xCache, second.json.timings.cache]).toEqual(["miss", "hit", "edge"]);
    expect(withoutTimings(second.json)).toEqual(withoutTimings(first.json));
  });

  it("a streaming request that hits replays the stream", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 10 };
    const cold = await send(request);
    const response = await postJson("/v1/generate", { ...request, stream: true }, MODEL);
    expect(response.headers.get("x-cache")).toBe("hit"); // decided before the stream opens
    const events = await readEvents(response);
    const tokens = events.filter((e) => e.event === "token").map((e) => e.data as { token_id: number; text: string });
    const finish = events.find((e) => e.event === "finish")!.data as { text: string };
    const done = events.find((e) => e.event === "done")!.data as GenerateResponse & { timings: { cache: string } };
    expect(done.timings.cache).toBe("memory");
    expect(tokens.map((t) => t.token_id)).toEqual(cold.json.generations[0].token_ids);
    expect(tokens.map((t) => t.text).join("") + finish.text).toBe(cold.json.generations[0].text);
  });

  it("x-cache is on streamed responses and on /v1/completions (JSON and SSE)", async () => {
    const prompt = freshPrompt();
    const stream = (body: object) => postJson("/v1/generate", { ...body, stream: true }, MODEL);
    const first = await stream({ prompt, max_new_tokens: 4 });
    expect(first.headers.get("x-cache")).toBe("miss");
    await first.text();
    expect((await stream({ prompt, max_new_tokens: 4, do_sample: true })).headers.get("x-cache")).toBe("bypass");
    const completion = (extra: object) => postJson("/v1/completions", { model: MODEL, prompt: `${prompt} c`, max_tokens: 3, temperature: 0, ...extra }, MODEL);
    const cold = await completion({});
    expect([cold.status, cold.headers.get("x-cache")]).toEqual([200, "miss"]);
    expect((await completion({})).headers.get("x-cache")).toBe("hit");
    const streamed = await completion({ stream: true });
    expect(streamed.headers.get("x-cache")).toBe("hit");
    await streamed.text();
    expect((await completion({ temperature: 1 })).headers.get("x-cache")).toBe("bypass");
  });

  it("identical requests in flight together run the model once", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 12 };
    const results = await Promise.all(Array.from({ length: 4 }, () => send(request)));
    expect(results.map((r) => r.json.timings.cache).sort()).toEqual(["coalesced", "coalesced", "coalesced", "model"]);
    for (const r of results) expect(withoutTimings(r.json)).toEqual(withoutTimings(results[0].json));
  });
});

describe("a cold isolate", () => {
  it("answers a response already in the data center's cache without loading the model: only the manifest is read", async () => {
    const request = { prompt: freshPrompt(), max_new_tokens: 6 };
    // Another isolate (here: another env, so another in-memory tier) generated it and stored it in the Cache API.
    const first = await send(request);
    expect([first.status, first.xCache]).toEqual([200, "miss"]);
    // This one serves the same files through a counting model host, as a model it has not loaded.
    const read: string[] = [];
    const host = { fetch: (url: string) => (read.push(new URL(url).pathname), env.TEST_MODELS.fetch(url)) };
    const coldEnv = { ...env, MODEL: `fetcher:COUNTING_HOST/${MODEL}`, COUNTING_HOST: host } as unknown as Env;
    const response = await app.request("/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) }, coldEnv);
    const json = (await response.json()) as GenerateResponse & { timings: { cache: string } };
    expect([response.status, response.headers.get("x-cache"), json.timings.cache]).toEqual([200, "hit", "edge"]);
    expect(withoutTimings(json)).toEqual(withoutTimings(first.json));
    expect(read).toEqual([`/${MODEL}/manifest.json`]); // no graph, no weights
  });
});
