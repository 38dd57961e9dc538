// One record per finished generation: a structured JSON log line (Workers Logs indexes its fields)
// and, when the deployment binds a Workers Analytics Engine dataset as GENERATION_ANALYTICS, one
// data point (README: "Observability" has the columns and example queries). Prompts and
// generated text are the users' data and stay out of both unless the operator sets LOG_PROMPTS="1"
// (and then only in the log line).
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { Config } from "../config";
import type { GenerationOutcome } from "../generation/service";

/** Who is recording: the transport's route and the request's id, with the deployment's sinks. */
export interface GenerationLog {
  config: Config;
  /** "/v1/generate", "/v1/completions", "rpc:generate", … */
  route: string;
  requestId: string;
  /** The optional GENERATION_ANALYTICS binding; absent = no data points. */
  analytics?: AnalyticsEngineDataset | null;
}

/** The record-keeping for an HTTP route's generations. */
export function generationLog(c: Context<AppEnv>, route: string): GenerationLog {
  return { config: c.var.config, route, requestId: c.var.requestId, analytics: analyticsOf(c.env) };
}

/** The Analytics Engine binding, if the deployment has one (it is optional, so not in Env). */
export function analyticsOf(env: Env): AnalyticsEngineDataset | null {
  const dataset = Reflect.get(env, "GENERATION_ANALYTICS") as AnalyticsEngineDataset | undefined;
  return dataset && typeof dataset.writeDataPoint === "function" ? dataset : null;
}

export function recordGeneration(log: GenerationLog, prompt: string, outcome: GenerationOutcome): void {
  const { result, plan, timings } = outcome;
  const completionTokens = result.sequences.reduce((sum, s) => sum + s.tokenIds.length, 0);
  const finishReasons = result.sequences.map((s) => s.finishReason);
  const line: Record<string, unknown> = {
    event: "generation",
    request_id: log.requestId,
    route: log.route,
    model: outcome.modelName,
    prompt_tokens: plan.promptIds.length,
    completion_tokens: completionTokens,
    cached_tokens: result.cachedTokens,
    finish_reasons: finishReasons,
    cache: outcome.cache.status,
    cache_source: outcome.cache.source,
    queue_ms: timings.queue_ms,
    tokenize_ms: timings.tokenize_ms,
    prefill_ms: timings.prefill_ms,
    decode_ms: timings.decode_ms,
    total_ms: timings.total_ms,
    decode_tokens_per_second: timings.decode_tokens_per_second,
  };
  if (log.config.logPrompts) {
    line.prompt = prompt;
    line.outputs = result.sequences.map((s) => s.text);
  }
  console.log(JSON.stringify(line));
  if (!log.analytics) return;
  try {
    log.analytics.writeDataPoint(generationDataPoint(log, outcome, completionTokens, finishReasons));
  } catch (error) {
    // Analytics must never fail a generation that has already been answered.
    console.warn(JSON.stringify({ event: "analytics_error", request_id: log.requestId, message: String(error) }));
  }
}

/**
 * The columns, in the order README's SQL relies on (never reorder; append new ones at the end).
 * index1 = model (Analytics Engine samples per index value).
 */
export function generationDataPoint(log: GenerationLog, outcome: GenerationOutcome, completionTokens: number, finishReasons: string[]): AnalyticsEngineDataPoint {
  const { timings, plan, result } = outcome;
  return {
    indexes: [outcome.modelName.slice(0, 96)],
    blobs: [
      log.route, // blob1
      outcome.modelName, // blob2
      outcome.cache.status, // blob3: hit | miss | bypass
      outcome.cache.source, // blob4: model | memory | edge | coalesced
      [...new Set(finishReasons)].join(","), // blob5: e.g. "length" or "stop,length"
      log.requestId, // blob6
    ],
    doubles: [
      plan.promptIds.length, // double1
      completionTokens, // double2
      result.cachedTokens, // double3: prompt tokens served from the prefix cache
      timings.queue_ms, // double4
      timings.tokenize_ms, // double5
      timings.prefill_ms, // double6
      timings.decode_ms, // double7
      timings.total_ms, // double8
      timings.decode_steps, // double9
      result.sequences.length, // double10
    ],
  };
}
