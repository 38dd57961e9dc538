// From a validated request and the loaded model to the decode loop's options: token budget
// (Hugging Face: max_new_tokens wins over max_length, and max_length counts the prompt), context
// window, and the settings Hugging Face itself rejects. All failures are 400s naming the field.
import type { Limits } from "../config";
import { badRequest } from "../errors";
import type { ModelManifest } from "../model/manifest";
import { SAMPLING_DEFAULTS, samplingSettingsError, type SamplingSettings } from "../sampling/index";
import type { PenaltySettings } from "../sampling/penalties";
import { randomSeed } from "../sampling/rng";
import { encodeWithin } from "../tokenizer/index";
import { penaltiesOf, type GenerateRequest } from "./request";

export interface GenerationPlan {
  promptIds: number[];
  maxNewTokens: number;
  numSequences: number;
  sampling: SamplingSettings;
  seed: number;
  stop: string[];
  eosTokenId: number;
  /** OpenAI's presence/frequency penalties and logit_bias (NO_PENALTIES when none is set). */
  penalties: PenaltySettings;
  /** Same request → same output (greedy, or sampling with an explicit seed): cacheable. */
  deterministic: boolean;
  /** false when the request said `cache: false`. */
  cacheAllowed: boolean;
  /** Top-N log-probabilities per token for the listener; absent = none. */
  logprobs?: number;
}

export function planGeneration(request: GenerateRequest, manifest: ModelManifest, limits: Limits): GenerationPlan {
  const window = manifest.architecture.n_positions;
  const eos = manifest.tokenizer.eos_token_id;
  // Hugging Face starts from the BOS token when there is no prompt; GPT-2's BOS is <|endoftext|>.
  // Stop tokenizing once the prompt cannot leave room to generate: bounded work for any body.
  const encoded = encodeWithin(request.prompt, window - 1);
  if (!encoded.fits) {
    throw badRequest(`prompt is more than ${encoded.moreThan} tokens; the model's context window is ${window} tokens, which leaves no room to generate`, "prompt");
  }
  const promptIds = encoded.ids.length > 0 ? encoded.ids : [manifest.tokenizer.bos_token_id];
  const promptTokens = promptIds.length;
  if (promptTokens >= window) {
    throw badRequest(`prompt is ${promptTokens} tokens; the model's context window is ${window} tokens, which leaves no room to generate`, "prompt");
  }
  const room = window - promptTokens;

  let maxNewTokens: number;
  if (request.max_new_tokens !== undefined) {
    if (request.max_new_tokens > room) {
      throw badRequest(`prompt (${promptTokens} tokens) + max_new_tokens (${request.max_new_tokens}) exceeds the context window of ${window} tokens`, "max_new_tokens");
    }
    maxNewTokens = request.max_new_tokens;
  } else if (request.max_length !== undefined) {
    if (request.max_length > window) {
      throw badRequest(`max_length (${request.max_length}) exceeds the model's context window of ${window} tokens`, "max_length");
    }
    if (request.max_length <= promptTokens) {
      throw badRequest(`max_length (${request.max_length}) counts the prompt, which is already ${promptTokens} tokens; raise max_length or use max_new_tokens`, "max_length");
    }
    maxNewTokens = request.max_length - promptTokens;
    if (maxNewTokens > limits.maxNewTokensCap) {
      throw badRequest(`max_length (${request.max_length}) allows ${maxNewTokens} new tokens; this server generates at most ${limits.maxNewTokensCap} per request`, "max_length");
    }
  } else {
    maxNewTokens = Math.min(limits.defaultMaxNewTokens, room);
  }

  const doSample = request.do_sample ?? SAMPLING_DEFAULTS.do_sample;
  const numSequences = request.num_return_sequences ?? 1;
  if (!doSample && numSequences > 1) {
    // Hugging Face raises here too: greedy decoding would return the same sequence n times.
    throw badRequest("num_return_sequences > 1 needs do_sample: true (greedy decoding would repeat one sequence)", "num_return_sequences");
  }
  const sampling: SamplingSettings = {
    do_sample: doSample,
    temperature: request.temperature ?? SAMPLING_DEFAULTS.temperature,
    top_k: request.top_k ?? SAMPLING_DEFAULTS.top_k,
    top_p: request.top_p ?? SAMPLING_DEFAULTS.top_p,
    repetition_penalty: request.repetition_penalty ?? SAMPLING_DEFAULTS.repetition_penalty,
    no_repeat_ngram_size: request.no_repeat_ngram_size ?? SAMPLING_DEFAULTS.no_repeat_ngram_size,
    min_new_tokens: request.min_new_tokens ?? SAMPLING_DEFAULTS.min_new_tokens,
    prompt_lookup_num_tokens: request.prompt_lookup_num_tokens ?? SAMPLING_DEFAULTS.prompt_lookup_num_tokens,
  };
  // The sampler's own ranges (callers other than the HTTP schema reach this too).
  const invalid = samplingSettingsError(sampling);
  if (invalid) throw badRequest(invalid.message, invalid.field);
  const stop = request.stop === undefined ? [] : request.stop;
  const deterministic = !doSample || request.seed !== undefined;
  return {
    promptIds, maxNewTokens, numSequences, sampling, seed: request.seed ?? randomSeed(), stop, eosTokenId: eos,
    penalties: penaltiesOf(request), deterministic, cacheAllowed: request.cache !== false,
    ...(request.logprobs !== undefined ? { logprobs: request.logprobs } : {}),
  };
}
