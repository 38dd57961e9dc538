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

export interface RunOptions {
  /** When the request arrived (epoch ms): the time budget and queue time count from here. */
  receivedAt?: number;
  signal?: AbortSignal;
  listener?: GenerationListener;
  /** Top-N log-probabilities per token for the listener (OpenAI's `logprobs`); absent = none. */
  logprobs?: number;
}

/** The plan plus the request's OpenAI-style penalties (part of what makes the text differ). */
export type ServicePlan = GenerationPlan & Pick<GenerateOptions, "penalties">;

export interface GenerationOutcome {
  model: LoadedModel;
  plan: ServicePlan;
  result: GenerateResult;
  timings: Timings;
}

export interface Timings {
  queue_ms: number;
  tokenize_ms: number;
  prefill_ms: number;
  decode_ms: number;
  total_ms: number;
  decode_steps: number;
  decode_tokens_per_second: number | null;
}

/** Load (or reuse) the model and plan the request: throws 400s and 503s before any output. */
export async function prepareGeneration(env: ConfigVars, request: GenerateRequest): Promise<{ model: LoadedModel; plan: ServicePlan; readyAt: number }> {
  const config = loadConfig(env);
  const model = await getModel(config.model, env as Record<string, unknown>);
  const readyAt = Date.now();
  const plan: ServicePlan = { ...planGeneration(request, model.manifest, config.limits), penalties: penaltiesOf(request) };
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
  // The model's scheduler batches this request with whatever else is generating.
  const result = await submitOrBusy(model, {
    ...plan,
    budget: { deadline: limit > 0 ? receivedAt + limit : null, signal: options.signal, now: Date.now },
    listener: options.listener,
    logprobs: options.logprobs,
  });
  const decodeSeconds = result.decodeMs / 1000;
  const timings: Timings = {
    queue_ms: readyAt - receivedAt + result.waitMs, // model load + waiting for a batch slot
    tokenize_ms: started - readyAt,
    prefill_ms: result.prefillMs,
    decode_ms: result.decodeMs,
    total_ms: Date.now() - receivedAt,
    decode_steps: result.steps,
    decode_tokens_per_second: decodeSeconds > 0 ? Math.round(((result.steps * plan.numSequences) / decodeSeconds) * 10) / 10 : null,
  };
  return { model, plan, result, timings };
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
    usage: { prompt_tokens: plan.promptIds.length, completion_tokens: completionTokens, total_tokens: plan.promptIds.length + completionTokens },
    ...(plan.sampling.do_sample ? { seed: plan.seed } : {}),
    timings,
  };
}
