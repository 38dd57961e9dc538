// Sampling for Edge GPT-2: Hugging Face generate() semantics as small pure functions over one
// sequence's float32 logits row, plus a per-sequence chooser and a seedable RNG.

export {
  GPT2_CONTEXT_SIZE,
  GPT2_VOCAB_SIZE,
  SAMPLING_DEFAULTS,
  SAMPLING_LIMITS,
  SETTING_INT_MAX,
  SamplingSettingsError,
  describeLimit,
  samplingSettingsError,
  validateSamplingSettings,
  type NumericLimit,
  type NumericSettingName,
  type SamplingSettings,
} from "./settings";
export { createTokenChooser, type TokenChooser, type TokenChooserOptions } from "./chooser";
export {
  applyMinNewTokens,
  applyNoRepeatNgram,
  applyRepetitionPenalty,
  applyRepetitionPenaltyToDistinct,
  applyTemperature,
  applyTopK,
  applyTopP,
  NgramIndex,
} from "./processors";
export { kthLargest } from "./warpers";
export { argmax, sampleFromLogits, softmaxWeights } from "./select";
export { MAX_SEED, createRng, createUint32Rng, deriveSeed, randomSeed } from "./rng";
