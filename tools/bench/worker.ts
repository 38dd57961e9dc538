// Bench-only Worker entry (never deployed): our serving path — model registry, generation service,
// scheduler, decode loop — inside workerd, with measurement endpoints for tools/bench.ts.
// Model files come over HTTP from the bench process (a local folder), like a model host would.
import app from "../../src/index";
import type { ModelManifest } from "../../src/model/manifest";
import { createSession, ort } from "../../src/engine/ort";
import { plainGreedy, type OrtPackage, type PlainLoopModel } from "./plain-loop";
import { benchPrompt } from "./plan";
import type { GenerateRequest } from "../../src/generation/request";
import { startGeneration, type GenerationOutcome, type RunOptions } from "../../src/generation/service";
import { deploymentFor } from "../../src/http/deployment";
import { mixedRequests } from "./mixed-requests";
import { loadStreamed, readWasmWith } from "./streamed-load-route";
import { planWasmHeap } from "../../src/engine/wasm-heap";
import { observeWeightReads } from "../../src/engine/stream-weights";

// ORT creates its WASM memory while instantiating its module. Wrap WebAssembly.instantiate before
// src/engine/ort.ts installs its own hook (it captures the function present at that time), so we
// see every instance and its memory: the only way to read ORT's linear memory size from outside.
const memories = new Set<WebAssembly.Memory>();
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>;
(WebAssembly as unknown as { instantiate: typeof instantiate }).instantiate = async (source, imports) => {
  const result = await instantiate(source, imports);
  for (const module of Object.values(imports ?? {})) collectMemories(module);
  const instance = result instanceof WebAssembly.Instance ? result : (result as { instance?: WebAssembly.Instance }).instance;
  if (instance) collectMemories(instance.exports);
  return result;
};

function collectMemories(namespace: unknown): void {
  if (!namespace || typeof namespace !== "object") return;
  for (const value of Object.values(namespace)) if (value instanceof WebAssembly.Memory) memories.add(value);
}

const wasmBytes = () => [...memories].reduce((sum, m) => sum + m.buffer.byteLength, 0);
readWasmWith(wasmBytes);

/**
 * Vars for the generation service: no response/prefix cache, so every run really computes.
 * `deployed`: the isolate phases run the deployment's own memory config (the KV byte budget) and
 * read the model from R2, as a deployment does.
 */
function benchEnv(origin: string, model: string, deployed: R2Bucket | null = null): Record<string, unknown> {
  const host = {
    fetch: (input: RequestInfo | URL) => fetch(`${origin}${new URL(input instanceof Request ? input.url : input).pathname}`),
  };
  return {
    // Deployed: from (local) R2, uploaded by /r2-put; else over HTTP from the bench process.
    ...(deployed ? { MODEL: `r2:${model}`, MODEL_BUCKET: deployed } : { MODEL: `fetcher:BENCH_MODELS/${model}`, BENCH_MODELS: host }),
    MAX_NEW_TOKENS_CAP: "1024",
    GENERATION_TIMEOUT_MS: "0",
    RESPONSE_CACHE_BYTES: "0",
    // GPT-2-124M does not fit a 128 MB isolate at all (its byte budget would admit nothing); workerd
    // enforces no limit, and speed is measured like for like with the byte budget off. The prefix
    // cache is part of that budget: deployed, it is the deployment's too.
    ...(deployed ? {} : { ISOLATE_MEMORY_BYTES: "0", PREFIX_CACHE_BYTES: "0" }),
  };
}

interface BenchRequest {
  /** Where the bench process serves model folders, e.g. http://127.0.0.1:41234 */
  origin: string;
  model: string;
  /** /generate: prompt length in tokens and tokens to generate. */
  promptTokens?: number;
  newTokens?: number;
  /** /lookup: a prompt's text and prompt_lookup_num_tokens (0 = off). */
  prompt?: string;
  lookupTokens?: number;
  /** /batch: how many requests to run at once. */
  rows?: number;
  /** /mixed: how many requests, and how many in flight at once. */
  requests?: number;
  concurrency?: number;
  /** Grow ORT's WASM heap to this many bytes when it is instantiated (src/engine/wasm-heap.ts). */
  heapBytes?: number;
  /** …once the session exists instead (streamed load only). */
  growAfterLoad?: boolean;
  /** The deployment's memory config (ISOLATE_MEMORY_BYTES default) instead of no byte budget. */
  deployed?: boolean;
}

export default {
  async fetch(request: Request, workerEnv: { MODEL_BUCKET: R2Bucket }): Promise<Response> {
    // Enters the isolate and nothing else: lets the inspector's queued GC run (isolate-memory.ts).
    if (new URL(request.url).pathname === "/ping") return new Response("ok");
    const body = (await request.json()) as BenchRequest;
    const env = benchEnv(body.origin, body.model, body.deployed ? workerEnv.MODEL_BUCKET : null);
    const path = new URL(request.url).pathname;
    if (path === "/r2-put") return Response.json(await putInR2(workerEnv.MODEL_BUCKET, body.origin, body.model));
    if (body.heapBytes) planWasmHeap(body.heapBytes, body.growAfterLoad ? "after-load" : "instantiate"); // issue 12 prototype
    if (path === "/load-streamed") return Response.json(await loadStreamed(body.origin, body.model));
    if (path === "/load") {
      const started = performance.now();
      // Inside onnxruntime's one synchronous session creation no outside sampler can look: the
      // weights still held plus every WASM memory, at each initializer read.
      let createPeakBytes = 0;
      observeWeightReads((held) => (createPeakBytes = Math.max(createPeakBytes, held + wasmBytes())));
      const engine = await deploymentFor(env as unknown as Env).model.engine();
      observeWeightReads(null);
      return Response.json({ loadMs: performance.now() - started, wasmBytes: wasmBytes(), createPeakBytes, kvBudget: engine.kvBudget });
    }
    if (path === "/generate") return Response.json(await timedGeneration(env, body.promptTokens!, body.newTokens!));
    if (path === "/lookup") return Response.json(await lookupGeneration(env, body.prompt!, body.newTokens!, body.lookupTokens!));
    if (path === "/batch") return Response.json(await batchedGeneration(env, body.rows!, body.newTokens!));
    if (path === "/cache") return Response.json(await cacheBench(body.origin, body.model, body.promptTokens!));
    if (path === "/mixed") return Response.json(await mixedRequests(env, body.requests!, body.concurrency!));
    if (path === "/plain-load") return Response.json({ coldStartMs: (await plainLoaded(body.origin, body.model)).coldStartMs });
    if (path === "/plain-steps") return Response.json(await plainSteps(body.origin, body.model, body.promptTokens!, body.newTokens!));
    if (path === "/plain-release") return Response.json(await plainRelease(body.model));
    return new Response("not found", { status: 404 });
  },
};

/** The model folder copied from the bench process into (local) R2 under `model/`, streamed. */
async function putInR2(bucket: R2Bucket, origin: string, model: string): Promise<{ files: number; bytes: number }> {
  const get = async (file: string) => {
    const response = await fetch(`${origin}/${model}/${file}`);
    if (!response.ok || !response.body) throw new Error(`${model}/${file}: HTTP ${response.status}`);
    return response;
  };
  const manifest = (await (await get("manifest.json")).json()) as ModelManifest;
  let bytes = 0;
  for (const file of ["manifest.json", ...manifest.files.map((f) => f.path)]) {
    const response = await get(file);
    const length = Number(response.headers.get("content-length"));
    // R2 takes a stream of known length; the body goes through without being held whole.
    const sized = new FixedLengthStream(length);
    const [put] = await Promise.all([bucket.put(`${model}/${file}`, sized.readable), response.body!.pipeTo(sized.writable)]);
    bytes += put?.size ?? 0;
  }
  return { files: manifest.files.length + 1, bytes };
}

/** One request through the Worker's generation service (response cache bypassed). */
async function runGeneration(env: Record<string, unknown>, request: GenerateRequest, options: RunOptions = {}): Promise<GenerationOutcome> {
  const prepared = await startGeneration(deploymentFor(env as unknown as Env).generation, { ...request, cache: false });
  return prepared.run(options);
}

/** Greedy generation through the generation service, timing each token as the listener sees it. */
async function timedGeneration(env: Record<string, unknown>, promptTokens: number, newTokens: number) {
  // " the" is one GPT-2 token, so this prompt is exactly promptTokens tokens long.
  const prompt = " the".repeat(promptTokens);
  const request = { prompt, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false } as GenerateRequest;
  const tokenAt: number[] = [];
  const started = performance.now();
  const outcome = await runGeneration(env, request, {
    listener: { token: () => void tokenAt.push(performance.now()), finish: () => undefined },
  });
  if (outcome.plan.promptIds.length !== promptTokens) throw new Error(`prompt has ${outcome.plan.promptIds.length} tokens, expected ${promptTokens}`);
  const stepMs = tokenAt.slice(1).map((t, i) => t - tokenAt[i]);
  return { ttftMs: tokenAt[0] - started, prefillMs: outcome.timings.prefill_ms, stepMs, wasmBytes: wasmBytes() };
}

/**
 * Greedy generation of exactly `newTokens` from `prompt` with prompt_lookup_num_tokens = lookupTokens:
 * decode tokens/s from the first token to the last (prefill excluded), and the forward steps taken.
 */
async function lookupGeneration(env: Record<string, unknown>, prompt: string, newTokens: number, lookupTokens: number) {
  const request = { prompt, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false, prompt_lookup_num_tokens: lookupTokens } as GenerateRequest;
  const tokenAt: number[] = [];
  const outcome = await runGeneration(env, request, { listener: { token: () => void tokenAt.push(performance.now()), finish: () => undefined } });
  return { decodeMs: tokenAt[tokenAt.length - 1] - tokenAt[0], tokens: tokenAt.length, steps: outcome.timings.decode_steps };
}

/**
 * `rows` greedy requests at once (distinct 16-token prompts, so none shares another's run), each
 * generating exactly `newTokens`: aggregate tokens/s, prefills included, as the scheduler batches them.
 */
async function batchedGeneration(env: Record<string, unknown>, rows: number, newTokens: number) {
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: rows }, (_, i) => {
      const request = { prompt: ` ${i + 1}${" the".repeat(15)}`, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false } as GenerateRequest;
      return runGeneration(env, request);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const tokens = outcomes.reduce((sum, o) => sum + o.result.sequences[0].tokenIds.length, 0);
  return { tokensPerSecond: tokens / seconds, tokens };
}

/**
 * Caching through the whole Worker (HTTP parsing included): latency of response-cache hits next to
 * cold generations, and prefill time of a long prompt cold, repeated (prefix cache, response cache
 * bypassed) and extended by 16 tokens.
 */
async function cacheBench(origin: string, model: string, promptTokens: number) {
  // Another spelling of the model source: the registry loads it anew, this time with caches on.
  const env = { ...benchEnv(origin, model), MODEL: `fetcher:BENCH_MODELS/${model}/`, PREFIX_CACHE_BYTES: String(96 * 2 ** 20), RESPONSE_CACHE_BYTES: String(8 * 2 ** 20), RESPONSE_CACHE_TTL_SECONDS: "0" };
  let unique = 0;
  const post = async (body: Record<string, unknown>) => {
    const started = performance.now();
    const response = await app.request("/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, env);
    const json = (await response.json()) as { timings: { prefill_ms: number; cache: string }; usage: { cached_tokens: number } };
    if (response.status !== 200) throw new Error(`bench request failed: ${JSON.stringify(json)}`);
    return { ms: performance.now() - started, json };
  };
  // A distinct first word per prompt: nothing is reused between "cold" prompts.
  const prompt = (tokens: number, tail = "") => `${++unique}${" the".repeat(tokens - 1)}${tail}`;
  await post({ prompt: prompt(8), max_new_tokens: 1 }); // load the model before timing anything
  const cold: number[] = [];
  for (let i = 0; i < 5; i++) cold.push((await post({ prompt: prompt(32), max_new_tokens: 16 })).ms);
  const repeated = { prompt: prompt(32), max_new_tokens: 16 };
  await post(repeated);
  const hits: number[] = [];
  for (let i = 0; i < 50; i++) {
    const { ms, json } = await post(repeated);
    if (json.timings.cache !== "memory") throw new Error(`expected a response-cache hit, got ${json.timings.cache}`);
    hits.push(ms);
  }
  const long = prompt(promptTokens);
  const first = await post({ prompt: long, max_new_tokens: 1, cache: false });
  const again = await post({ prompt: long, max_new_tokens: 1, cache: false });
  const extended = await post({ prompt: long + " and".repeat(16), max_new_tokens: 1, cache: false });
  return {
    coldMs: cold,
    hitMs: hits,
    prefix: {
      promptTokens,
      coldMs: first.ms,
      repeatedMs: again.ms,
      repeatedCachedTokens: again.json.usage.cached_tokens,
      extendedMs: extended.ms,
      extendedCachedTokens: extended.json.usage.cached_tokens,
    },
  };
}

/**
 * The plain onnxruntime-web loop inside workerd (same runtime as ours, same session options): the
 * fair yardstick for our serving overhead, since workerd runs WASM slower than Node does. Its
 * session is kept between calls, so runs of ours and of the plain loop can alternate.
 */
const plainSessions = new Map<string, Promise<PlainLoopModel>>();

function plainLoaded(origin: string, model: string): Promise<PlainLoopModel> {
  let loaded = plainSessions.get(model);
  if (!loaded) plainSessions.set(model, (loaded = plainSession(origin, model)));
  return loaded;
}

/** One plain-loop generation in workerd: per-step ms, step 0 being the prefill (TTFT). */
async function plainSteps(origin: string, model: string, promptTokens: number, newTokens: number) {
  const plain = await plainLoaded(origin, model);
  return { stepMs: await plainGreedy(ort as unknown as OrtPackage, plain, benchPrompt(promptTokens, plain.manifest.architecture.vocab_size), newTokens) };
}

async function plainRelease(model: string) {
  const loaded = plainSessions.get(model);
  plainSessions.delete(model);
  if (loaded) await (await loaded).session.release();
  return { released: Boolean(loaded) };
}

async function plainSession(origin: string, model: string): Promise<PlainLoopModel> {
  const read = async (file: string) => new Uint8Array(await (await fetch(`${origin}/${model}/${file}`)).arrayBuffer());
  const manifest = JSON.parse(new TextDecoder().decode(await read("manifest.json"))) as ModelManifest;
  const graph = await read(manifest.files.find((f) => f.role === "graph")!.path);
  const weights = manifest.files.find((f) => f.role === "weights")!;
  const data = await read(weights.path);
  const started = performance.now();
  const session = await createSession(graph, [{ path: weights.path, data }]);
  return { manifest, session, coldStartMs: performance.now() - started };
}
