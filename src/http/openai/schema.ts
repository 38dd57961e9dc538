// POST /v1/completions request: OpenAI's documented fields (legacy Completions API), each with
// OpenAI's range, mapped onto GenerateRequest. Fields OpenAI does not document are rejected; `null`
// means "default" as in OpenAI's API. OpenAI's defaults differ from Hugging Face's: temperature 1,
// top_p 1, no top_k (the full distribution), max_tokens 16.
import { z } from "zod";
import { perLimits, type Limits } from "../../config";
import { badRequest } from "../../errors";
import { UINT32_MAX, bool, int, logitBiasField, nestedError, parseOrThrow, penaltyField, ranged, stopField, strictError } from "../fields";
import type { GenerateRequest } from "../../generation/request";

export const OPENAI_DEFAULT_MAX_TOKENS = 16;
/** OpenAI's own maximum for `logprobs` on completions. */
export const MAX_LOGPROBS = 5;

export function buildCompletionSchema(limits: Limits) {
  const promptText = z.string({ error: "prompt must be a string or an array of strings (token arrays are not supported)" });
  return z.strictObject(
    {
      model: z.string({ error: "model is required and must be a string (see GET /v1/models)" }),
      prompt: z
        .union([promptText, z.array(promptText, { error: "prompt must be a string or an array of strings" })
          .min(1, { error: "prompt must not be an empty array" })
          .max(limits.maxReturnSequences, { error: `prompt takes at most ${limits.maxReturnSequences} strings` })], {
          error: "prompt must be a string or an array of strings (token arrays are not supported)",
        })
        .nullish(),
      max_tokens: int("max_tokens", 1, limits.maxNewTokensCap).nullish().meta({ default: OPENAI_DEFAULT_MAX_TOKENS }),
      temperature: ranged("temperature", 0, 2).nullish().meta({ default: 1, description: "0 = greedy." }),
      top_p: z.number({ error: "top_p must be a number greater than 0 and at most 1" })
        .gt(0, { error: "top_p must be a number greater than 0 and at most 1" })
        .max(1, { error: "top_p must be a number greater than 0 and at most 1" }).nullish().meta({ default: 1 }),
      n: int("n", 1, limits.maxReturnSequences).nullish().meta({ default: 1 }),
      best_of: int("best_of", 1, limits.maxReturnSequences).nullish().meta({ description: "Only best_of = n is supported." }),
      stream: bool("stream").nullish(),
      stream_options: z.strictObject(
        { include_usage: bool("stream_options.include_usage").nullish() },
        nestedError('stream_options must be an object like {"include_usage": true}'),
      ).nullish(),
      logprobs: int("logprobs", 0, MAX_LOGPROBS).nullish(),
      echo: bool("echo").nullish(),
      stop: stopField(limits.maxStopStrings, limits.maxStopLength).nullish(),
      presence_penalty: penaltyField("presence_penalty").nullish(),
      frequency_penalty: penaltyField("frequency_penalty").nullish(),
      logit_bias: logitBiasField().nullish(),
      seed: int("seed", 0, UINT32_MAX).nullish(),
      suffix: z.null({ error: "suffix is not supported by GPT-2 (it only continues text)" }).optional(),
      user: z.string({ error: "user must be a string" }).nullish().meta({ description: "Accepted and ignored." }),
    },
    strictError,
  );
}

export type CompletionRequest = z.infer<ReturnType<typeof buildCompletionSchema>>;

const schemaFor = perLimits(buildCompletionSchema);

export function parseCompletionRequest(body: unknown, limits: Limits): CompletionRequest {
  const request = parseOrThrow(schemaFor(limits), body, "see OpenAI's Completions API for accepted fields");
  const n = request.n ?? 1;
  if (request.best_of != null && request.best_of !== n) {
    throw badRequest(`best_of (${request.best_of}) must equal n (${n}): ranking extra samples is not supported`, "best_of");
  }
  if (request.stream_options != null && !request.stream) {
    throw badRequest("stream_options is only allowed when stream is true", "stream_options");
  }
  if (request.echo && request.logprobs != null) {
    throw badRequest("echo together with logprobs is not supported (prompt tokens have no log-probabilities here)", "logprobs");
  }
  const prompts = promptsOf(request);
  if (prompts.length * n > limits.maxReturnSequences) {
    throw badRequest(`${prompts.length} prompts × n=${n} is more than ${limits.maxReturnSequences} completions per request`, "n");
  }
  return request;
}

/** The prompts of a request (a missing prompt continues from <|endoftext|>, as OpenAI does). */
export function promptsOf(request: CompletionRequest): string[] {
  return typeof request.prompt === "string" || request.prompt == null ? [request.prompt ?? ""] : request.prompt;
}

/**
 * One prompt of an OpenAI request as a GenerateRequest. Greedy (temperature 0) with n > 1 runs
 * once: the caller repeats the one result n times, as greedy decoding would produce it anyway.
 */
export function toGenerateRequest(request: CompletionRequest, prompt: string, limits: Limits): GenerateRequest {
  const temperature = request.temperature ?? 1;
  const sample = temperature > 0;
  return {
    prompt,
    // OpenAI's default, within what this deployment allows.
    max_new_tokens: request.max_tokens ?? Math.min(OPENAI_DEFAULT_MAX_TOKENS, limits.maxNewTokensCap),
    do_sample: sample,
    ...(sample ? { temperature, top_k: 0, top_p: request.top_p ?? 1, num_return_sequences: request.n ?? 1 } : {}),
    ...(request.seed != null ? { seed: request.seed } : {}),
    ...(request.stop != null ? { stop: request.stop } : {}),
    ...(request.presence_penalty != null ? { presence_penalty: request.presence_penalty } : {}),
    ...(request.frequency_penalty != null ? { frequency_penalty: request.frequency_penalty } : {}),
    ...(request.logit_bias != null ? { logit_bias: request.logit_bias } : {}),
    ...(request.logprobs != null ? { logprobs: request.logprobs } : {}),
  };
}

/** Errors the shared planner raises name Hugging Face fields: rename them to the OpenAI ones. */
export const OPENAI_FIELD_NAMES: Readonly<Record<string, string>> = {
  max_new_tokens: "max_tokens",
  num_return_sequences: "n",
};
