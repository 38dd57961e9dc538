// Generation settings shared by the sampler, the HTTP validator and the docs: one source
// for names, defaults (Hugging Face GenerationConfig) and allowed ranges.

/** GPT-2's vocabulary (r50k_base): the logits row length and top_k's upper bound. */
export const GPT2_VOCAB_SIZE = 50257;
/** GPT-2's context window (n_positions). */
export const GPT2_CONTEXT_SIZE = 1024;
/** Most draft tokens one prompt-lookup step verifies. */
export const PROMPT_LOOKUP_MAX = 16;
/** The largest integer a setting may take where Hugging Face sets no bound of its own. */
export const SETTING_INT_MAX = 2 ** 31 - 1;

export interface SamplingSettings {
  /** false: greedy argmax (temperature/top_k/top_p are ignored, as in HF); true: sample. */
  do_sample: boolean;
  /** Logits are divided by it before top_k/top_p. 1.0 disables it. Sampling only. */
  temperature: number;
  /** Keep only the k most likely tokens (ties at the k-th kept). 0 disables it. Sampling only. */
  top_k: number;
  /** Keep the smallest set of most likely tokens whose mass reaches top_p. 1.0 disables it. Sampling only. */
  top_p: number;
  /** Penalises every token already in prompt + output. 1.0 disables it. */
  repetition_penalty: number;
  /** Forbids repeating any n-gram of this size (prompt included). 0 disables it. */
  no_repeat_ngram_size: number;
  /** EOS is forbidden until this many new tokens exist. 0 disables it. */
  min_new_tokens: number;
  /** Prompt-lookup decoding: up to this many draft tokens from n-gram matches in prompt + output,
   * verified in one step. Changes speed, never the tokens chosen. 0 disables it (HF's None). */
  prompt_lookup_num_tokens: number;
}

/**
 * HF GenerationConfig defaults. Note top_k = 50 is HF's default and is active whenever
 * do_sample is true (send top_k: 0 to sample from the full distribution).
 */
export const SAMPLING_DEFAULTS: Readonly<SamplingSettings> = Object.freeze({
  do_sample: false,
  temperature: 1.0,
  top_k: 50,
  top_p: 1.0,
  repetition_penalty: 1.0,
  no_repeat_ngram_size: 0,
  min_new_tokens: 0,
  prompt_lookup_num_tokens: 0,
});

export interface NumericLimit {
  readonly min: number;
  /** false: `min` itself is not allowed (e.g. temperature > 0). */
  readonly minInclusive: boolean;
  readonly max: number;
  readonly integer: boolean;
  /** The value that turns the processor off. */
  readonly disabledValue: number;
  /** HF ignores the setting (and so do we, validation included) unless do_sample is true. */
  readonly samplingOnly: boolean;
}

export type NumericSettingName = Exclude<keyof SamplingSettings, "do_sample">;

/**
 * Allowed ranges (max is always inclusive): Hugging Face's, the one source for the request
 * validators (http/fields.ts builds their zod fields from this table) and the chooser. HF clamps
 * top_k to the vocabulary, and an n-gram longer than the text bans nothing, so neither has a
 * tighter bound than any integer.
 */
export const SAMPLING_LIMITS: Readonly<Record<NumericSettingName, NumericLimit>> = Object.freeze({
  temperature: { min: 0, minInclusive: false, max: 100, integer: false, disabledValue: 1, samplingOnly: true },
  top_k: { min: 0, minInclusive: true, max: SETTING_INT_MAX, integer: true, disabledValue: 0, samplingOnly: true },
  top_p: { min: 0, minInclusive: false, max: 1, integer: false, disabledValue: 1, samplingOnly: true },
  repetition_penalty: { min: 0, minInclusive: false, max: 100, integer: false, disabledValue: 1, samplingOnly: false },
  no_repeat_ngram_size: {
    min: 0, minInclusive: true, max: SETTING_INT_MAX, integer: true, disabledValue: 0, samplingOnly: false,
  },
  min_new_tokens: {
    min: 0, minInclusive: true, max: Number.MAX_SAFE_INTEGER, integer: true, disabledValue: 0, samplingOnly: false,
  },
  // Hugging Face sets no bound; ours keeps a verifying step's cost (about 2× one step at 8 tokens,
  // growing with the count) below what a long run of rejected drafts would waste.
  prompt_lookup_num_tokens: {
    min: 0, minInclusive: true, max: PROMPT_LOOKUP_MAX, integer: true, disabledValue: 0, samplingOnly: false,
  },
});

/** Human-readable range of one setting, e.g. "an integer in [0, 50257]" or "a number in (0, 100]". */
export function describeLimit(limit: NumericLimit): string {
  const kind = limit.integer ? "an integer" : "a number";
  const upper = limit.max === Number.MAX_SAFE_INTEGER ? ">= " + limit.min : null;
  if (upper) return `${kind} ${upper}`;
  return `${kind} in ${limit.minInclusive ? "[" : "("}${limit.min}, ${limit.max}]`;
}

/** Settings that fail SAMPLING_LIMITS, with the field at fault (a 400 naming it on the API). */
export class SamplingSettingsError extends RangeError {
  override name = "SamplingSettingsError";
  constructor(message: string, readonly field: string) {
    super(message);
  }
}

/** The first problem as an error naming its field, or null when the settings are valid. */
export function samplingSettingsError(settings: SamplingSettings): SamplingSettingsError | null {
  const problems = validateSamplingSettings(settings);
  if (problems.length === 0) return null;
  return new SamplingSettingsError(problems[0], /^\w+/.exec(problems[0])![0]);
}

/**
 * Checks settings against SAMPLING_LIMITS; returns one message per problem (empty = valid).
 * Sampling-only settings are not checked when do_sample is false, because HF ignores them.
 */
export function validateSamplingSettings(settings: SamplingSettings): string[] {
  const problems: string[] = [];
  if (typeof settings.do_sample !== "boolean") problems.push("do_sample must be a boolean");
  for (const name of Object.keys(SAMPLING_LIMITS) as NumericSettingName[]) {
    const limit = SAMPLING_LIMITS[name];
    if (limit.samplingOnly && settings.do_sample !== true) continue;
    const v = settings[name];
    const ok =
      typeof v === "number" &&
      Number.isFinite(v) &&
      (!limit.integer || Number.isInteger(v)) &&
      (limit.minInclusive ? v >= limit.min : v > limit.min) &&
      v <= limit.max;
    if (!ok) problems.push(`${name} must be ${describeLimit(limit)}, got ${String(v)}`);
  }
  return problems;
}
