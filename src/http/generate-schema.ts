// The /v1/generate request: Hugging Face generate() names and ranges (plus OpenAI's penalties and
// logit_bias, which Hugging Face lacks). Unknown fields are rejected (a typo such as "top-p" must
// not be silently ignored). Every message names the allowed range.
import { z } from "zod";
import { perLimits, type Limits } from "../config";
import { NO_PENALTIES, type PenaltySettings } from "../sampling/penalties";
import { UINT32_MAX, bool, int, logitBiasField, parseOrThrow, penaltyField, positive, stopField, strictError } from "./fields";

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
      temperature: positive("temperature", 100).optional(),
      top_k: int("top_k", 0, MAX_WINDOW).optional(),
      top_p: positive("top_p", 1).optional(),
      repetition_penalty: positive("repetition_penalty", 100).optional(),
      no_repeat_ngram_size: int("no_repeat_ngram_size", 0, MAX_WINDOW).optional(),
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

export type GenerateRequest = z.infer<ReturnType<typeof buildGenerateSchema>>;

const schemaFor = perLimits(buildGenerateSchema);

/** Validate, or throw a 400 naming the first offending field. */
export function parseGenerateRequest(body: unknown, limits: Limits): GenerateRequest {
  return parseOrThrow(schemaFor(limits), body, "see the API reference for accepted fields");
}

/** The request's OpenAI-style adjustments, for the decode loop (NO_PENALTIES when none is set). */
export function penaltiesOf(request: GenerateRequest): PenaltySettings {
  const { presence_penalty: presence = 0, frequency_penalty: frequency = 0, logit_bias: bias } = request;
  if (presence === 0 && frequency === 0 && (!bias || Object.keys(bias).length === 0)) return NO_PENALTIES;
  return {
    presence_penalty: presence,
    frequency_penalty: frequency,
    logit_bias: new Map(Object.entries(bias ?? {}).map(([id, value]) => [Number(id), value])),
  };
}
