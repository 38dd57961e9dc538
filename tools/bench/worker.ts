// Bench-only Worker entry (never deployed): our serving path — model registry, generation service,
// scheduler, decode loop — inside workerd, with measurement endpoints for tools/bench.ts.
// Model files come over HTTP from the bench process (a local folder), like a model host would.
import { runGeneration } from "../../src/generation/service";
import type { GenerateRequest } from "../../src/http/generate-schema";
import { getModel } from "../../src/session/registry";

// ORT creates its WASM memory while instantiating its module. Wrap WebAssembly.instantiate before
// src/session/ort.ts installs its own hook (it captures the function present at that time), so we
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

/** Vars for the generation service: no response/prefix cache, so every run really computes. */
function benchEnv(origin: string, model: string): Record<string, unknown> {
  const host = {
    fetch: (input: RequestInfo | URL) => fetch(`${origin}${new URL(input instanceof Request ? input.url : input).pathname}`),
  };
  return {
    MODEL: `fetcher:BENCH_MODELS/${model}`,
    BENCH_MODELS: host,
    MAX_NEW_TOKENS_CAP: "1024",
    GENERATION_TIMEOUT_MS: "0",
    PREFIX_CACHE_BYTES: "0",
    RESPONSE_CACHE_BYTES: "0",
  };
}

interface BenchRequest {
  /** Where the bench process serves model folders, e.g. http://127.0.0.1:41234 */
  origin: string;
  model: string;
  /** /generate: prompt length in tokens and tokens to generate. */
  promptTokens?: number;
  newTokens?: number;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const body = (await request.json()) as BenchRequest;
    const env = benchEnv(body.origin, body.model);
    const path = new URL(request.url).pathname;
    if (path === "/load") {
      const started = performance.now();
      const model = await getModel(env.MODEL as string, env);
      return Response.json({ loadMs: performance.now() - started, wasmBytes: wasmBytes() });
    }
    if (path === "/generate") return Response.json(await timedGeneration(env, body.promptTokens!, body.newTokens!));
    return new Response("not found", { status: 404 });
  },
};

/** Greedy generation through the generation service, timing each token as the listener sees it. */
async function timedGeneration(env: Record<string, unknown>, promptTokens: number, newTokens: number) {
  // " the" is one GPT-2 token, so this prompt is exactly promptTokens tokens long.
  const prompt = " the".repeat(promptTokens);
  const request = { prompt, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false } as GenerateRequest;
  const tokenAt: number[] = [];
  const started = performance.now();
  const outcome = await runGeneration(env as never, request, {
    cache: false,
    listener: { token: () => void tokenAt.push(performance.now()), finish: () => undefined },
  });
  if (outcome.plan.promptIds.length !== promptTokens) throw new Error(`prompt has ${outcome.plan.promptIds.length} tokens, expected ${promptTokens}`);
  const stepMs = tokenAt.slice(1).map((t, i) => t - tokenAt[i]);
  return { ttftMs: tokenAt[0] - started, prefillMs: outcome.timings.prefill_ms, stepMs, wasmBytes: wasmBytes() };
}
