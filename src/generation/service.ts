// The request service, the same for every transport (HTTP JSON, SSE, OpenAI routes, RPC):
// request → plan (tokens, settings, budget; the manifest is all it needs) → the engine's job →
// outcome. Transports only map their format onto GenerateRequest and the outcome onto theirs.
// The response cache wraps this service (cached-service.ts): it looks at the plan before the engine
// is loaded, so a hit never waits for the model.
import type { Config } from "../config";
import type { Engine } from "../engine/engine";
import type { ModelHandle } from "../engine/registry";
import { SchedulerBusyError, type JobResult } from "../engine/scheduler";
import type { GenerationListener } from "../engine/sequence";
import { ApiError, badRequest } from "../errors";
import { KvBudgetError } from "../engine/kv-budget";
import type { ModelManifest } from "../model/manifest";
import { planGeneration, type GenerationPlan } from "./plan";
import type { GenerateRequest } from "./request";

export type CacheSource = "model" | "memory" | "edge" | "coalesced";

export interface RunOptions {
  signal?: AbortSignal;
  listener?: GenerationListener;
  /** Called when the engine starts this request (its prompt is prefilled in the batch), with the time
   * its prefill began; never for cache hits. */
  onStart?: (prefillStartedAt: number) => void;
}

/** A validated request, tokenized and planned against the model's manifest (no weights loaded). */
export interface PlannedGeneration {
  request: GenerateRequest;
  plan: GenerationPlan;
  manifest: ModelManifest;
  /** When the request arrived (epoch ms): the time budget and queue time count from here. */
  receivedAt: number;
  /** When planning ended; what follows until prefill is queueing (model load, batch slot). */
  plannedAt: number;
  tokenizeMs: number;
}

/** A plan ready to run: every 4xx and 503 is behind it, so a stream may open now. */
export interface PreparedGeneration {
  planned: PlannedGeneration;
  /** The x-cache header as known before running: a stream's headers go out first. */
  cacheStatus: "hit" | "miss" | "bypass";
  run(options?: RunOptions): Promise<GenerationOutcome>;
}

export interface GenerationOutcome {
  modelName: string;
  plan: GenerationPlan;
  result: JobResult;
  timings: Timings;
  /** Whether the response cache answered: x-cache header and timings.cache. */
  cache: { status: "hit" | "miss" | "bypass"; source: CacheSource };
}

export interface Timings {
  queue_ms: number;
  tokenize_ms: number;
  prefill_ms: number;
  decode_ms: number;
  total_ms: number;
  decode_steps: number;
  decode_tokens_per_second: number | null;
  /** Where the answer came from: "model", or the cache tier ("memory", "edge", "coalesced"). */
  cache: CacheSource;
}

export interface GenerationService {
  plan(request: GenerateRequest, receivedAt?: number): Promise<PlannedGeneration>;
  prepare(planned: PlannedGeneration): Promise<PreparedGeneration>;
}

/** Plan, then prepare: the usual way in for a transport. */
export async function startGeneration(service: GenerationService, request: GenerateRequest, receivedAt = Date.now()): Promise<PreparedGeneration> {
  return service.prepare(await service.plan(request, receivedAt));
}

/** The service without a response cache: every request runs on the engine. */
export function engineService(config: Config, model: ModelHandle): GenerationService {
  return {
    async plan(request, receivedAt = Date.now()) {
      const manifest = await model.manifest();
      const started = Date.now();
      const plan = planGeneration(request, manifest, config.limits);
      const plannedAt = Date.now();
      return { request, plan, manifest, receivedAt, plannedAt, tokenizeMs: plannedAt - started };
    },
    async prepare(planned) {
      const engine = await model.engine();
      const readyAt = Date.now();
      return { planned, cacheStatus: "bypass", run: (options = {}) => runOnEngine(config, engine, planned, readyAt, options) };
    },
  };
}

async function runOnEngine(config: Config, engine: Engine, planned: PlannedGeneration, readyAt: number, options: RunOptions): Promise<GenerationOutcome> {
  const { plan, receivedAt } = planned;
  const limit = config.limits.generationTimeoutMs;
  let result: JobResult;
  try {
    result = await engine.submit({
      ...plan,
      budget: { deadline: limit > 0 ? receivedAt + limit : null, signal: options.signal, now: Date.now },
      listener: options.listener,
      onStart: options.onStart,
    });
  } catch (error) {
    // A full queue is the server's condition, not the request's: 503 with a hint when to retry.
    // More keys/values than the isolate can ever hold for it: the request's own doing.
    if (error instanceof KvBudgetError) throw badRequest(error.message, error.field);
    if (error instanceof SchedulerBusyError) {
      throw new ApiError(503, "overloaded", `the model is busy: ${error.message}; retry in ${error.retryAfterSeconds} s`, null, { "Retry-After": String(error.retryAfterSeconds) });
    }
    throw error;
  }
  const decodeSeconds = result.decodeMs / 1000;
  const timings: Timings = {
    queue_ms: readyAt - planned.plannedAt + result.waitMs, // model load + waiting for a batch slot
    tokenize_ms: planned.tokenizeMs,
    prefill_ms: result.prefillMs,
    decode_ms: result.decodeMs,
    total_ms: Date.now() - receivedAt,
    decode_steps: result.steps,
    decode_tokens_per_second: decodeSeconds > 0 ? Math.round(((result.steps * plan.numSequences) / decodeSeconds) * 10) / 10 : null,
    cache: "model",
  };
  return { modelName: planned.manifest.name, plan, result, timings, cache: { status: "bypass", source: "model" } };
}

/** The /v1/generate response body (also what the RPC entrypoint returns). */
export function generateResponseBody(outcome: GenerationOutcome) {
  const { plan, result, timings } = outcome;
  const completionTokens = result.sequences.reduce((sum, s) => sum + s.tokenIds.length, 0);
  return {
    model: outcome.modelName,
    generations: result.sequences.map((s, index) => ({ index, text: s.text, token_ids: s.tokenIds, finish_reason: s.finishReason })),
    usage: { prompt_tokens: plan.promptIds.length, completion_tokens: completionTokens, total_tokens: plan.promptIds.length + completionTokens, cached_tokens: result.cachedTokens },
    ...(plan.sampling.do_sample ? { seed: plan.seed } : {}),
    timings,
  };
}
