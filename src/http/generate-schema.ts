// The /v1/generate request: Hugging Face generate() names and ranges. Unknown fields are rejected
// (a typo such as "top-p" must not be silently ignored). Every message names the allowed range.
import { z } from "zod";
import type { Limits } from "../config";
import { badRequest, type ApiError } from "../errors";

const UINT32_MAX = 2 ** 32 - 1;

const int = (field: string, min: number, max: number) =>
  z.number({ error: `${field} must be an integer from ${min} to ${max}` })
    .int({ error: `${field} must be an integer from ${min} to ${max}` })
    .min(min, { error: `${field} must be an integer from ${min} to ${max}` })
    .max(max, { error: `${field} must be an integer from ${min} to ${max}` });

const positive = (field: string, max: number, inclusiveMax = true) =>
  z.number({ error: `${field} must be a number greater than 0 and at most ${max}` })
    .gt(0, { error: `${field} must be a number greater than 0 and at most ${max}` })
    .max(max, { error: `${field} must be a number greater than 0 and at most ${max}` })
    .refine((v) => inclusiveMax || v < max, { error: `${field} must be less than ${max}` });

// Bounds that depend on the model (context window) are checked after tokenization, so a bad
// request is answered 400 even while the model cannot load.
const MAX_WINDOW = 1 << 20;

function buildSchema(limits: Limits) {
  const stopString = z
    .string({ error: "stop must be a string or an array of strings" })
    .min(1, { error: "stop strings must not be empty" })
    .max(limits.maxStopLength, { error: `stop strings must be at most ${limits.maxStopLength} characters` });
  return z.strictObject(
    {
      prompt: z.string({ error: "prompt is required and must be a string" }),
      max_new_tokens: int("max_new_tokens", 1, limits.maxNewTokensCap).optional(),
      max_length: int("max_length", 1, MAX_WINDOW).optional(),
      min_new_tokens: int("min_new_tokens", 0, limits.maxNewTokensCap).optional(),
      do_sample: z.boolean({ error: "do_sample must be true or false" }).optional(),
      temperature: positive("temperature", 100).optional(),
      top_k: int("top_k", 0, MAX_WINDOW).optional(),
      top_p: positive("top_p", 1).optional(),
      repetition_penalty: positive("repetition_penalty", 100).optional(),
      no_repeat_ngram_size: int("no_repeat_ngram_size", 0, MAX_WINDOW).optional(),
      num_return_sequences: int("num_return_sequences", 1, limits.maxReturnSequences).optional(),
      seed: int("seed", 0, UINT32_MAX).optional(),
      // A single string is shorthand for a one-element list.
      stop: z
        .preprocess(
          (value) => (typeof value === "string" ? [value] : value),
          z.array(stopString, { error: "stop must be a string or an array of strings" })
            .max(limits.maxStopStrings, { error: `stop takes at most ${limits.maxStopStrings} strings` }),
        )
        .optional(),
    },
    { error: (issue) => (issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : undefined) },
  );
}

export type GenerateRequest = z.infer<ReturnType<typeof buildSchema>>;

const schemas = new WeakMap<Limits, ReturnType<typeof buildSchema>>();

/** Validate, or throw a 400 naming the first offending field. */
export function parseGenerateRequest(body: unknown, limits: Limits): GenerateRequest {
  let schema = schemas.get(limits);
  if (!schema) schemas.set(limits, (schema = buildSchema(limits)));
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw issueToError(result.error.issues[0]);
}

function issueToError(issue: z.core.$ZodIssue): ApiError {
  if (issue.code === "unrecognized_keys") {
    return badRequest(`unknown field(s): ${issue.keys.join(", ")}; see the API reference for accepted fields`, issue.keys[0]);
  }
  const param = issue.path.reduce<string>(
    (name, key) => (typeof key === "number" ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)),
    "",
  );
  return badRequest(issue.message, param || null);
}
