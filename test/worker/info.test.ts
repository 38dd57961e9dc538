// Discoverability: /v1/info and /openapi.json (generated from the request schemas), and the
// demo page and browser client the Worker serves.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import packageJson from "../../package.json";
import { JS_RESERVE_BYTES } from "../../src/config";
import app from "../../src/index";
import { envFor, postJson } from "./helpers";

const MODEL = "synthetic-int8";
const get = (path: string, vars: Record<string, string> = {}) => app.request(path, {}, envFor(MODEL, vars));

describe("GET /v1/info", () => {
  it("describes the model, its revision, the limits and the server version", async () => {
    const response = await get("/v1/info", { MAX_NEW_TOKENS_CAP: "100" });
    expect(response.status).toBe(200);
    const info = (await response.json()) as Record<string, any>;
    expect(info.server).toEqual({ name: "edge-gpt2", version: packageJson.version });
    expect(info.model).toMatchObject({ id: "synthetic-int8", dtype: "int8", context_window: 64, vocab_size: 50257 });
    expect(info.model.revision).toMatch(/^[0-9a-f]{64}$/);
    expect(info.model.files.map((f: { path: string }) => f.path).sort()).toEqual(["embedding.int8", "layer-00.onnx", "layer-00.onnx.data", "layer-01.onnx", "layer-01.onnx.data", "mlp.int8"]);
    expect(info.limits).toMatchObject({ max_new_tokens_cap: 100, default_max_new_tokens: 64, max_stop_strings: 4 });
    expect(info.auth).toEqual({ api_key_required: false });
  });

  it("reports how the isolate's memory is shared out, and a request that can never fit the KV budget is a 400 naming the field", async () => {
    // The test isolates run without a byte budget (vitest.config.ts): this one sets its own, for the
    // same model under another name (so another engine), with room for about 40 tokens.
    const plain = (await (await get("/v1/info")).json()) as { memory: null; model_memory_bytes: number };
    expect(plain.memory).toBeNull();
    // The JS reserve, and the response cache kept out of the budget beside it.
    const jsReserve = JS_RESERVE_BYTES + 2 ** 20;
    const perToken = 4 * 1 * 2 * 32 * 4; // synthetic: 1 layer × 32 wide, fp32 keys and values: 3 copies (right-padded) + the prefill slack
    const isolate = plain.model_memory_bytes + jsReserve + Math.ceil((40 * perToken * 4) / 3);
    const tight = { ISOLATE_MEMORY_BYTES: String(isolate), RESPONSE_CACHE_BYTES: String(2 ** 20) };
    const model = `fetcher:TEST_MODELS/${MODEL}/`;
    const tightInfo = (await (await app.request("/v1/info", {}, envFor(model, tight))).json()) as { memory: Record<string, number> };
    const memory = tightInfo.memory;
    expect(memory.isolate_bytes).toBe(isolate);
    expect(memory.kv_bytes_per_token).toBe(perToken);
    expect(memory.js_reserve_bytes).toBe(jsReserve);
    expect(memory.kv_budget_bytes + memory.prefix_cache_bytes).toBe(Math.max(0, isolate - memory.model_bytes - jsReserve));
    const room = memory.tokens_in_flight;
    expect(room).toBeLessThan(60);
    const tooLong = await postJson("/v1/generate", { prompt: "x", max_new_tokens: room + 2, cache: false }, model, tight);
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: "max_new_tokens", message: expect.stringMatching(/keys\/values/) });
    if (room >= 4) expect((await postJson("/v1/generate", { prompt: "x", max_new_tokens: 2, cache: false }, model, tight)).status).toBe(200);
  });

  it("503 with the reason while the model cannot load", async () => {
    const response = await app.request("/v1/info", {}, envFor("fetcher:TEST_MODELS/no-such-model"));
    expect(response.status).toBe(503);
  });
});

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document whose schemas follow the validators and this deployment's limits", async () => {
    const doc = (await (await get("/openapi.json", { MAX_NEW_TOKENS_CAP: "77" })).json()) as Record<string, any>;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe(packageJson.version);
    const generate = doc.components.schemas.GenerateRequest;
    expect(generate.required).toEqual(["prompt"]);
    expect(generate.additionalProperties).toBe(false);
    expect(generate.properties.max_new_tokens).toMatchObject({ type: "integer", minimum: 1, maximum: 77 });
    expect(generate.properties.top_p).toMatchObject({ exclusiveMinimum: 0, maximum: 1 });
    expect(generate.properties.stream).toMatchObject({ type: "boolean" });
    expect(generate.properties.stop.anyOf).toEqual([{ type: "string", minLength: 1 }, expect.objectContaining({ type: "array", maxItems: 4 })]);
    const completion = doc.components.schemas.CompletionRequest;
    expect(completion.required).toEqual(["model"]);
    expect(Object.keys(completion.properties)).toEqual(expect.arrayContaining(["prompt", "max_tokens", "logprobs", "echo", "stream_options", "presence_penalty"]));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/generate", "/v1/completions", "/v1/models", "/v1/info"]));
  });

  // A value the schema allows for each property: its minimum, maximum or simplest form.
  function exampleOf(schema: Record<string, any>): unknown {
    if (schema.anyOf) return exampleOf(schema.anyOf[0]);
    if (Array.isArray(schema.type)) return exampleOf({ ...schema, type: schema.type[0] }); // nullable: ["boolean", "null"]
    if (schema.type === "integer") return schema.minimum ?? 0;
    if (schema.type === "number") return schema.maximum ?? schema.minimum ?? 0;
    if (schema.type === "boolean") return false;
    if (schema.type === "string") return "x";
    if (schema.type === "object") return {};
    if (schema.type === "null") return null;
    throw new Error(`no example for ${JSON.stringify(schema)}`);
  }
  const bodyFrom = (schema: Record<string, any>, overrides: Record<string, unknown>) => ({
    ...Object.fromEntries(Object.entries(schema.properties).map(([name, field]) => [name, exampleOf(field as Record<string, any>)])),
    ...overrides,
  });

  it("a request using every documented field is accepted; an undocumented one is not", async () => {
    const schemas = ((await (await get("/openapi.json")).json()) as Record<string, any>).components.schemas;
    const generate = bodyFrom(schemas.GenerateRequest, { max_new_tokens: 2 });
    expect(Object.keys(generate).length).toBeGreaterThan(15);
    expect((await postJson("/v1/generate", generate, MODEL)).status).toBe(200);
    // stream_options needs stream: true; everything else at its documented bound.
    const completion = bodyFrom(schemas.CompletionRequest, { model: "synthetic-int8", max_tokens: 2, stream_options: null });
    expect((await postJson("/v1/completions", completion, MODEL)).status).toBe(200);
    const rejected = await postJson("/v1/generate", { ...generate, not_documented: 1 }, MODEL);
    expect(((await rejected.json()) as { error: { param: string } }).error.param).toBe("not_documented");
  });

  it("real responses validate against the document's own response schemas", async () => {
    const schemas = ((await (await get("/openapi.json")).json()) as Record<string, any>).components.schemas;
    const response = z.fromJSONSchema(schemas.GenerateResponse);
    const error = z.fromJSONSchema(schemas.Error);
    const prompt = `openapi ${Math.random()}`;
    const bodies = [
      await postJson("/v1/generate", { prompt, max_new_tokens: 3 }, MODEL), // a miss
      await postJson("/v1/generate", { prompt, max_new_tokens: 3 }, MODEL), // a hit
      await postJson("/v1/generate", { prompt, max_new_tokens: 3, do_sample: true, num_return_sequences: 2 }, MODEL),
    ];
    for (const body of bodies) {
      expect(body.status).toBe(200);
      const parsed = response.safeParse(await body.json());
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    }
    const streamed = await (await postJson("/v1/generate", { prompt, max_new_tokens: 3, stream: true, cache: false }, MODEL)).text();
    const done = /event: done\ndata: (.*)\n/.exec(streamed)![1];
    expect(response.safeParse(JSON.parse(done)).success).toBe(true);
    const bad = await postJson("/v1/generate", { prompt, top_p: 2 }, MODEL);
    expect(error.safeParse(await bad.json()).success).toBe(true);
    const info = z.fromJSONSchema(schemas.InfoResponse).safeParse(await (await get("/v1/info")).json());
    expect(info.success, JSON.stringify(info.error?.issues)).toBe(true);
  });
});

describe("static files", () => {
  it("GET / is the demo page, loading /client.js as a module", async () => {
    const response = await get("/");
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await response.text();
    expect(html).toContain('import { EdgeGpt2 } from "./client.js"');
    expect(html).toContain('data-testid="stop"');
  });

  it("GET /client.js is an ES module exporting the client", async () => {
    const response = await get("/client.js");
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const source = await response.text();
    for (const name of ["class EdgeGpt2 ", "class EdgeGpt2Error ", "function generate(", "function stream("]) expect(source).toContain(`export ${name}`);
  });
});
