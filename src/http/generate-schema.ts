// The /v1/generate request: Hugging Face generate() names and ranges (plus OpenAI's penalties and
// logit_bias, which Hugging Face lacks). Unknown fields are rejected (a typo such as "top-p" must
// not be silently ignored). Every message names the allowed range.
import { z } from "zod";
import { perLimits, type Limits } from "../config";
import type { GenerateRequest } from "../generation/request";
import { bool, int, logitBiasField, parseOrThrow, penaltyField, setting, stopField, strictError, UINT32_MAX } from "./fields";

// Bounds that depend on the model (context window) are checked after tokenization, so a bad
// request is answered 400 even while the model cannot load.
const MAX_WINDOW = 1 << 20;

export function buildGenerateSchema(limits: Limits) {
  return z.strictObject(
    {
      prompt: z.string({ error: "prompt is required and must be a string" }).meta({ description: "Text to continue." }),
      max_new_tokens: int("max_new_tokens", 1, limits.maxNewTokensCap).optional(),
      max_length: int("max_length", 1, MAX_WINDOW).optional().meta({ description: "Prompt plus generated tokens at most." }),
      min_new_tokens: int("min_new_tokens", 0, limits.maxNewTokensCap).optional(),
      do_sample: bool("do_sample").optional(),
      temperature: setting("temperature").optional(),
      top_k: setting("top_k").optional().meta({ description: "Clamped to the vocabulary, as Hugging Face does." }),
      top_p: setting("top_p").optional(),
      repetition_penalty: setting("repetition_penalty").optional(),
      no_repeat_ngram_size: setting("no_repeat_ngram_size").optional().meta({ description: "An n-gram longer than the text bans nothing." }),
      prompt_lookup_num_tokens: setting("prompt_lookup_num_tokens").optional().meta({
        description: "Prompt-lookup decoding: up to this many draft tokens copied from earlier text, verified in one step. Faster on repetitive text; the tokens are the same. Only for a request decoding alone (one sequence, no other request batched with it).",
      }),
      num_return_sequences: int("num_return_sequences", 1, limits.maxReturnSequences).optional(),
      seed: int("seed", 0, UINT32_MAX).optional(),
      stop: stopField(limits.maxStopStrings, limits.maxStopLength).optional(),
      presence_penalty: penaltyField("presence_penalty").optional(),
      frequency_penalty: penaltyField("frequency_penalty").optional(),
      logit_bias: logitBiasField().optional(),
      stream: bool("stream").optional().meta({ description: "Answer text/event-stream: one event per token." }),
      cache: bool("cache").optional().meta({ description: "false: neither read nor write the response cache for this request." }),
    },
    strictError,
  );
}

/** A /v1/generate body: the service's GenerateRequest plus the transport's own `stream`. */
export type GenerateBody = GenerateRequest & { stream?: boolean };

const schemaFor = perLimits(buildGenerateSchema);

/** Validate, or throw a 400 naming the first offending field. The return type checks, at compile
 * time, that what the schema produces is what the generation service takes. */
export function parseGenerateRequest(body: unknown, limits: Limits): GenerateBody {
  return parseOrThrow(schemaFor(limits), body, "see the API reference for accepted fields");
}
