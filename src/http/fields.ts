// Zod building blocks shared by the request schemas (/v1/generate, /v1/completions, RPC): every
// message names the field and its allowed range, and a failed parse becomes one 400 naming the
// first offending field.
import { z } from "zod";
import { badRequest, type ApiError } from "../errors";
import { GPT2_VOCAB_SIZE, SAMPLING_LIMITS, describeLimit, type NumericSettingName } from "../sampling/settings";

export const UINT32_MAX = 2 ** 32 - 1;

export const int = (field: string, min: number, max: number) => {
  const error = `${field} must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

/** A number in [min, max]. */
export const ranged = (field: string, min: number, max: number) => {
  const error = `${field} must be a number from ${min} to ${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
};

/** A Hugging Face setting with exactly the range the sampler accepts (SAMPLING_LIMITS). */
export function setting(field: NumericSettingName) {
  const limit = SAMPLING_LIMITS[field];
  const error = `${field} must be ${describeLimit(limit)}`;
  let schema = z.number({ error });
  if (limit.integer) schema = schema.int({ error });
  schema = limit.minInclusive ? schema.min(limit.min, { error }) : schema.gt(limit.min, { error });
  return schema.max(limit.max, { error });
}

export const bool = (field: string) => z.boolean({ error: `${field} must be true or false` });

/** Stop strings: one string is shorthand for a one-element list. */
export function stopField(maxStrings: number, maxLength: number) {
  const item = z
    .string({ error: "stop must be a string or an array of strings" })
    .min(1, { error: "stop strings must not be empty" })
    .max(maxLength, { error: `stop strings must be at most ${maxLength} characters` });
  return z.preprocess(
    (value) => (typeof value === "string" ? [value] : value),
    z.array(item, { error: "stop must be a string or an array of strings" })
      .max(maxStrings, { error: `stop takes at most ${maxStrings} strings` }),
  );
}

/** OpenAI's penalties: numbers in [-2, 2], 0 disables. */
export const penaltyField = (field: string) => ranged(field, -2, 2);

/** OpenAI's logit_bias: {"<token id>": bias in [-100, 100]}. */
export const logitBiasField = () =>
  z.record(
    z.string().regex(/^\d+$/, { error: "logit_bias keys must be token ids (decimal strings)" })
      .refine((key) => Number(key) < GPT2_VOCAB_SIZE, { error: `logit_bias keys must be token ids below ${GPT2_VOCAB_SIZE}` }),
    ranged("logit_bias values", -100, 100),
    { error: 'logit_bias must be an object like {"50256": -100}' },
  ).refine((bias) => Object.keys(bias).length <= 300, { error: "logit_bias takes at most 300 tokens" });

/** Field names as messages show them: odd ones (empty, spaces, quotes) quoted. */
const fieldList = (keys: readonly string[]) => keys.map((k) => (/^[\w.-]+$/.test(k) ? k : `"${k}"`)).join(", ");

/** Unknown-field message for z.strictObject's unrecognized_keys issue. */
export const strictError = {
  error: (issue: z.core.$ZodRawIssue) => (issue.code === "unrecognized_keys" ? `unknown field(s): ${fieldList(issue.keys)}` : undefined),
};

/** A nested object's errors: unknown keys as above, anything else `message`. */
export const nestedError = (message: string) => ({
  error: (issue: z.core.$ZodRawIssue) => (issue.code === "unrecognized_keys" ? `unknown field(s): ${fieldList(issue.keys)}` : message),
});

/** "stop[1]", "logit_bias.50256", or null for the whole body. */
export function paramOf(path: readonly PropertyKey[]): string | null {
  const name = path.reduce<string>(
    (joined, key) => (typeof key === "number" ? `${joined}[${key}]` : joined ? `${joined}.${String(key)}` : String(key)),
    "",
  );
  return name || null;
}

/**
 * Validate, or throw a 400 naming the first offending field. JSON.parse keeps a "__proto__" key
 * as an own property, which z.record (logit_bias) would drop silently: it is refused here.
 */
export function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown, docs: string): T {
  const bias = body !== null && typeof body === "object" ? (body as { logit_bias?: unknown }).logit_bias : undefined;
  if (bias !== null && typeof bias === "object" && Object.prototype.hasOwnProperty.call(bias, "__proto__")) {
    throw badRequest("logit_bias keys must be token ids (decimal strings)", "logit_bias.__proto__");
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw issueToError(result.error.issues[0], docs);
}

function issueToError(issue: z.core.$ZodIssue, docs: string): ApiError {
  if (issue.code === "unrecognized_keys") {
    // The key itself, even "" (paramOf would drop an empty name).
    const names = issue.keys.map((key) => (issue.path.length > 0 ? paramOf([...issue.path, key])! : key));
    return badRequest(`unknown field(s): ${fieldList(names)}; ${docs}`, names[0]);
  }
  if (issue.code === "invalid_key") return badRequest(issue.issues[0]?.message ?? issue.message, paramOf(issue.path));
  return badRequest(issue.message, paramOf(issue.path));
}
