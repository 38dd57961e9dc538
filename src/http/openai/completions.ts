// POST /v1/completions: OpenAI's legacy Completions API over the shared generation service.
// Each prompt is one batched generation (n samples); choices are numbered prompt-major as OpenAI
// does (prompt i, sample j → index i*n + j). With stream: true, one chunk per token, then an
// optional usage chunk (stream_options.include_usage), then `data: [DONE]`.
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import type { Config } from "../../config";
import type { TokenLogprobs } from "../../engine/logprobs";
import type { FinishReason } from "../../engine/stopping";
import { ApiError } from "../../errors";
import type { ModelManifest } from "../../model/manifest";
import type { GenerationOutcome, GenerationService, PlannedGeneration, PreparedGeneration } from "../../generation/service";
import { readJsonBody } from "../body";
import { openAIErrorBody, reportError, toApiError } from "../error-response";
import { keepAlive } from "../keep-alive";
import { generationLog, recordGeneration, type GenerationLog } from "../log";
import { serverTiming } from "../server-timing";
import { eventStream, sseFrame, SSE_HEADERS } from "../sse";
import { startedJson } from "../started-json";
import { LogprobsTracker, appendLogprobs, emptyLogprobs, openAIFinishReason, type CompletionChoice } from "./choices";
import { OPENAI_FIELD_NAMES, parseCompletionRequest, promptsOf, toGenerateRequest, type CompletionRequest } from "./schema";

interface Job {
  prompt: string;
  /** Choice index of this prompt's first sample. */
  base: number;
  /** How many choices each generated sequence fills (n for greedy, where one run serves all). */
  copies: number;
  prepared: PreparedGeneration;
}

/** What a run tells its transport, per choice index. */
interface ChoiceEvents {
  token(choice: number, text: string, tokenId: number, logprobs: TokenLogprobs | undefined): void;
  finish(choice: number, reason: FinishReason, text: string): void;
}

export async function handleCompletions(c: Context<AppEnv>): Promise<Response> {
  const receivedAt = Date.now();
  const { config, generation } = c.var;
  const request = parseCompletionRequest(await readJsonBody(c.req.raw, config.limits.maxBodyBytes), config.limits);
  const manifest = await c.var.model.manifest();
  const jobs = await prepareJobs(generation, config, manifest, request, receivedAt);
  const head = {
    id: `cmpl-${crypto.randomUUID().replaceAll("-", "")}`,
    object: "text_completion" as const,
    created: Math.floor(receivedAt / 1000),
    model: manifest.name,
    system_fingerprint: `fp_${manifest.source.weights_sha256.slice(0, 12)}`,
  };
  const log = generationLog(c, "/v1/completions");
  const run = (signal: AbortSignal, events: ChoiceEvents, onStart?: (prefillStartedAt: number) => void) => runJobs(log, jobs, signal, events, onStart);
  const cacheHeader = { "x-cache": combinedCacheStatus(jobs.map((job) => job.prepared.cacheStatus)) };
  const tokenize_ms = jobs.reduce((sum, job) => sum + job.prepared.planned.tokenizeMs, 0);
  const plannedAt = Math.max(...jobs.map((job) => job.prepared.planned.plannedAt));
  const cache = { status: cacheHeader["x-cache"] };

  if (request.stream) {
    const includeUsage = request.stream_options?.include_usage === true;
    const trackers = new TrackerSet(0);
    const chunk = (choices: CompletionChoice[], usage?: object) => sseFrame({ ...head, choices, ...(includeUsage ? { usage: usage ?? null } : {}) });
    const { stream, done } = eventStream(
      async (sink) => {
        if (request.echo) for (const job of jobs) for (const i of choiceIndices(job)) sink.write(chunk([{ text: job.prompt, index: i, logprobs: null, finish_reason: null }]));
        const outcomes = await run(sink.signal, {
          token(index, text, tokenId, logprobs) {
            if (text || logprobs) sink.write(chunk([{ text, index, logprobs: logprobs ? trackers.next(index, tokenId, logprobs) : null, finish_reason: null }]));
          },
          finish(index, reason, text) {
            sink.write(chunk([{ text, index, logprobs: null, finish_reason: openAIFinishReason(reason) }]));
          },
        });
        if (includeUsage) sink.write(chunk([], usageOf(jobs, outcomes)));
        sink.write(sseFrame("[DONE]"));
      },
      {
        upstream: c.req.raw.signal,
        errorFrame(error) {
          const apiError = toApiError(error);
          reportError(error, apiError, log.requestId);
          return sseFrame(openAIErrorBody(apiError, log.requestId), "error");
        },
      },
    );
    keepAlive(c, done);
    // Headers go out before queueing: only tokenization is known (see server-timing.ts).
    return new Response(stream, { headers: { ...SSE_HEADERS, ...cacheHeader, "Server-Timing": serverTiming({ tokenize_ms, cache }) } });
  }

  const choices: CompletionChoice[] = [];
  for (const job of jobs) {
    for (const index of choiceIndices(job)) {
      choices[index] = { text: request.echo ? job.prompt : "", index, logprobs: request.logprobs != null ? emptyLogprobs() : null, finish_reason: null };
    }
  }
  const trackers = new TrackerSet(0);
  return startedJson(c, {
    headers: cacheHeader,
    headersAtStart: (prefillStartedAt) => ({ "Server-Timing": serverTiming({ tokenize_ms, queue_ms: prefillStartedAt - plannedAt, cache }) }),
    run({ signal, onStart, listener }) {
      const running = run(signal, {
        token(index, text, tokenId, logprobs) {
          listener.token(index, tokenId, text);
          choices[index].text += text;
          if (logprobs) appendLogprobs(choices[index].logprobs!, trackers.next(index, tokenId, logprobs));
        },
        finish(index, reason, text) {
          choices[index].text += text;
          choices[index].finish_reason = openAIFinishReason(reason);
        },
      }, onStart);
      keepAlive(c, running);
      return running;
    },
    render: (outcomes) => ({
      body: { ...head, choices, usage: usageOf(jobs, outcomes) },
      // Used only when every prompt was answered before the headers (cache hits): all phases known.
      headers: {
        "x-cache": combinedCacheStatus(outcomes.map((outcome) => outcome.cache.status)),
        "Server-Timing": serverTiming({
          ...sumTimings(outcomes),
          cache: { status: combinedCacheStatus(outcomes.map((outcome) => outcome.cache.status)) },
        }),
      },
    }),
    errorBody: (error) => openAIErrorBody(error, log.requestId),
  });
}

/** One x-cache value for several prompts: hit only when every one was, bypass when none could be. */
function combinedCacheStatus(statuses: ("hit" | "miss" | "bypass")[]): "hit" | "miss" | "bypass" {
  if (statuses.every((s) => s === "hit")) return "hit";
  if (statuses.every((s) => s === "bypass")) return "bypass";
  return "miss";
}

/** Check the requested id, plan every prompt, then load the model: all 4xx and 503s come before any output. */
async function prepareJobs(generation: GenerationService, config: Config, manifest: ModelManifest, request: CompletionRequest, receivedAt: number): Promise<Job[]> {
  if (request.model !== manifest.name) {
    throw new ApiError(404, "not_found", `The model \`${request.model}\` does not exist; this server serves \`${manifest.name}\` (see GET /v1/models)`, "model");
  }
  const prompts = promptsOf(request);
  const n = request.n ?? 1;
  const listed = typeof request.prompt !== "string" && request.prompt != null;
  const planned: PlannedGeneration[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const plan = generation.plan(toGenerateRequest(request, prompt, config.limits), receivedAt);
    planned.push(await plan.catch((error: unknown) => Promise.reject(renameFields(error, listed ? i : null))));
  }
  const jobs: Job[] = [];
  for (const [i, plan] of planned.entries()) {
    jobs.push({ prompt: prompts[i], base: i * n, copies: n / plan.plan.numSequences, prepared: await generation.prepare(plan) });
  }
  return jobs;
}

/** Run the prompts one after another (each one batched over its n samples). */
async function runJobs(log: GenerationLog, jobs: Job[], signal: AbortSignal, events: ChoiceEvents, onStart?: (prefillStartedAt: number) => void): Promise<GenerationOutcome[]> {
  const outcomes: GenerationOutcome[] = [];
  for (const job of jobs) {
    const targets = (sequence: number) => Array.from({ length: job.copies }, (_, k) => job.base + sequence * job.copies + k);
    const outcome = await job.prepared.run({
      signal,
      onStart,
      listener: {
        token: (sequence, tokenId, text, logprobs) => targets(sequence).forEach((i) => events.token(i, text, tokenId, logprobs)),
        finish: (sequence, reason, text) => targets(sequence).forEach((i) => events.finish(i, reason, text)),
      },
    });
    recordGeneration(log, job.prompt, outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

/** The prompts ran one after another: their phases add up (total is the last one's, from receipt). */
function sumTimings(outcomes: GenerationOutcome[]) {
  const sum = (key: "tokenize_ms" | "queue_ms" | "prefill_ms" | "decode_ms") => outcomes.reduce((total, o) => total + o.timings[key], 0);
  return { tokenize_ms: sum("tokenize_ms"), queue_ms: sum("queue_ms"), prefill_ms: sum("prefill_ms"), decode_ms: sum("decode_ms"), total_ms: Math.max(...outcomes.map((o) => o.timings.total_ms)) };
}

const choiceIndices = (job: Job): number[] =>
  Array.from({ length: job.copies * job.prepared.planned.plan.numSequences }, (_, k) => job.base + k);

function usageOf(jobs: Job[], outcomes: GenerationOutcome[]) {
  const promptTokens = jobs.reduce((sum, job) => sum + job.prepared.planned.plan.promptIds.length, 0);
  const completionTokens = outcomes.reduce(
    (sum, outcome, i) => sum + jobs[i].copies * outcome.result.sequences.reduce((s, seq) => s + seq.tokenIds.length, 0),
    0,
  );
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** One LogprobsTracker per choice, created on first use. */
class TrackerSet {
  private readonly trackers = new Map<number, LogprobsTracker>();
  constructor(private readonly startOffset: number) {}
  next(choice: number, tokenId: number, logprobs: TokenLogprobs) {
    let tracker = this.trackers.get(choice);
    if (!tracker) this.trackers.set(choice, (tracker = new LogprobsTracker(this.startOffset)));
    return tracker.next(tokenId, logprobs);
  }
}

/** The planner names Hugging Face fields; an OpenAI client sent OpenAI ones (and maybe a prompt list). */
function renameFields(error: unknown, promptIndex: number | null): unknown {
  if (!(error instanceof ApiError) || error.param === null) return error;
  let { param, message } = error;
  const renamed = OPENAI_FIELD_NAMES[param];
  if (renamed) {
    message = message.replaceAll(param, renamed);
    param = renamed;
  } else if (param === "prompt" && promptIndex !== null) {
    param = `prompt[${promptIndex}]`;
  }
  return new ApiError(error.status, error.type, message, param, error.headers);
}
