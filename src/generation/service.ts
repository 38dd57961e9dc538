// One generation request from any transport (HTTP JSON, SSE, OpenAI routes, RPC): load the model,
// plan, run the decode loop, and describe the result. Transports only map their format onto
// GenerateRequest and this module's result onto theirs.
import { loadConfig, type ConfigVars } from "../config";
import { penaltiesOf, type GenerateRequest } from "../http/generate-schema";
import { getModel, type LoadedModel } from "../session/registry";
import type { GenerateOptions, GenerateResult, GenerationListener } from "./generate";
import { planGeneration, type GenerationPlan } from "./plan";
import { SchedulerBusyError, type GenerationJob } from "./scheduler";
import { ApiError } from "../errors";
import { cachedRun, type CacheSource } from "../cache/cached-run";

export interface RunOptions {
  /** When the request arrived (epoch ms): the time budget and queue time count from here. */
  receivedAt?: number;
  signal?: AbortSignal;
  listener?: GenerationListener;
  /** Top-N log-probabilities per token for the listener (OpenAI's `logprobs`); absent = none. */
  logprobs?: number;
  /** false: neither read nor write the response cache (body `cache: false`, `Cache-Control: no-store`). */
  cache?: boolean;
}

/** The plan plus the request's OpenAI-style penalties (part of what makes the text differ). */
export type ServicePlan = GenerationPlan & Pick<GenerateOptions, "penalties"> & {
  /** false when the request said `cache: false`. */
  cacheAllowed: boolean;
};

export interface GenerationOutcome {
  model: LoadedModel;
  plan: ServicePlan;
  result: GenerateResult;
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

/** Load (or reuse) the model and plan the request: throws 400s and 503s before any output. */
export async function prepareGeneration(env: ConfigVars, request: GenerateRequest): Promise<{ model: LoadedModel; plan: ServicePlan; readyAt: number }> {
  const config = loadConfig(env);
  const model = await getModel(config.model, env as Record<string, unknown>);
  const readyAt = Date.now();
  const plan: ServicePlan = {
    ...planGeneration(request, model.manifest, config.limits),
    penalties: penaltiesOf(request),
    cacheAllowed: request.cache !== false,
  };
  return { model, plan, readyAt };
}

export async function runGeneration(env: ConfigVars, request: GenerateRequest, options: RunOptions = {}): Promise<GenerationOutcome> {
  const receivedAt = options.receivedAt ?? Date.now();
  const { model, plan, readyAt } = await prepareGeneration(env, request);
  return runPlanned(env, model, plan, { ...options, receivedAt }, readyAt);
}

/** Run an already prepared plan (streaming transports send headers between prepare and run). */
export async function runPlanned(env: ConfigVars, model: LoadedModel, plan: ServicePlan, options: RunOptions, readyAt: number): Promise<GenerationOutcome> {
  const receivedAt = options.receivedAt ?? readyAt;
  const limit = loadConfig(env).limits.generationTimeoutMs;
  const started = Date.now();
  const limits = loadConfig(env).limits;
  // The model's scheduler batches this request with whatever else is generating.
  const run = () =>
    submitOrBusy(model, {
      ...plan,
      budget: { deadline: limit > 0 ? receivedAt + limit : null, signal: options.signal, now: Date.now },
      listener: options.listener,
      logprobs: options.logprobs,
    });
  const cached = await cachedRun(limits, cacheKeyParts(model, plan, options), options.listener, run);
  const result = cached.result;
  const decodeSeconds = result.decodeMs / 1000;
  const timings: Timings = {
    queue_ms: readyAt - receivedAt + result.waitMs, // model load + waiting for a batch slot
    tokenize_ms: started - readyAt,
    prefill_ms: result.prefillMs,
    decode_ms: result.decodeMs,
    total_ms: Date.now() - receivedAt,
    decode_steps: result.steps,
    decode_tokens_per_second: decodeSeconds > 0 ? Math.round(((result.steps * plan.numSequences) / decodeSeconds) * 10) / 10 : null,
    cache: cached.source,
  };
  return { model, plan, result, timings, cache: { status: cached.status, source: cached.source } };
}

/**
 * Everything that decides a deterministic request's output, or null when the request is not
 * cacheable (sampled without a seed, wants log-probabilities, or opted out).
 */
function cacheKeyParts(model: LoadedModel, plan: ServicePlan, options: RunOptions): Record<string, unknown> | null {
  if (!plan.deterministic || !plan.cacheAllowed || options.cache === false || options.logprobs !== undefined) return null;
  return {
    model: model.manifest.files.map((f) => f.sha256),
    promptIds: plan.promptIds,
    maxNewTokens: plan.maxNewTokens,
    numSequences: plan.numSequences,
    sampling: plan.sampling,
    seed: plan.sampling.do_sample ? plan.seed : null,
    stop: plan.stop,
    eos: plan.eosTokenId,
    penalties: plan.penalties ?? null,
  };
}

/** A full queue is the server's condition, not the request's: 503 with a hint when to retry. */
async function submitOrBusy(model: LoadedModel, job: GenerationJob) {
  try {
    return await model.scheduler.submit(job);
  } catch (error) {
    if (error instanceof SchedulerBusyError) {
      throw new ApiError(503, "overloaded", `the model is busy (${error.message}); retry shortly`, null, { "Retry-After": "1" });
    }
    throw error;
  }
}

/** The /v1/generate response body (also what the RPC entrypoint returns). */
export function generateResponseBody(outcome: GenerationOutcome) {
  const { model, plan, result, timings } = outcome;
  const completionTokens = result.sequences.reduce((sum, s) => sum + s.tokenIds.length, 0);
  return {
    model: model.manifest.name,
    generations: result.sequences.map((s, index) => ({ index, text: s.text, token_ids: s.tokenIds, finish_reason: s.finishReason })),
    usage: { prompt_tokens: plan.promptIds.length, completion_tokens: completionTokens, total_tokens: plan.promptIds.length + completionTokens, cached_tokens: result.cachedTokens },
    ...(plan.sampling.do_sample ? { seed: plan.seed } : {}),
    timings,
  };
}
