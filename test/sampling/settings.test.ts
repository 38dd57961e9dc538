import { describe, expect, it } from "vitest";
import {
  describeLimit,
  SAMPLING_DEFAULTS,
  SAMPLING_LIMITS,
  type SamplingSettings,
  validateSamplingSettings,
} from "../../src/sampling/settings";
import { createTokenChooser } from "../../src/sampling/chooser";
import { createRng } from "../../src/sampling/rng";

const sampling = (over: Partial<SamplingSettings>): SamplingSettings => ({ ...SAMPLING_DEFAULTS, do_sample: true, ...over });

describe("settings", () => {
  it("defaults are Hugging Face GenerationConfig's", () => {
    expect(SAMPLING_DEFAULTS).toEqual({
      do_sample: false,
      temperature: 1,
      top_k: 50,
      top_p: 1,
      repetition_penalty: 1,
      no_repeat_ngram_size: 0,
      min_new_tokens: 0,
      prompt_lookup_num_tokens: 0, // HF's None: no prompt lookup
    });
  });

  it("every default is the setting's disabled value except HF's top_k 50", () => {
    for (const [name, limit] of Object.entries(SAMPLING_LIMITS)) {
      const value = SAMPLING_DEFAULTS[name as keyof typeof SAMPLING_LIMITS];
      expect([name, value]).toEqual([name, name === "top_k" ? 50 : limit.disabledValue]);
    }
  });

  it("defaults validate, greedy and sampling", () => {
    expect(validateSamplingSettings(SAMPLING_DEFAULTS)).toEqual([]);
    expect(validateSamplingSettings(sampling({}))).toEqual([]);
  });

  it.each([
    ["temperature", 0],
    ["temperature", 100.5],
    ["top_k", 1.5],
    ["top_k", 2 ** 31],
    ["top_k", -1],
    ["top_p", 0],
    ["top_p", 1.01],
    ["repetition_penalty", 0],
    ["repetition_penalty", 101],
    ["no_repeat_ngram_size", 2 ** 31],
    ["min_new_tokens", -1],
    ["min_new_tokens", Number.NaN],
    ["prompt_lookup_num_tokens", 17],
    ["prompt_lookup_num_tokens", 1.5],
  ] as const)("rejects %s = %s when sampling", (name, value) => {
    const problems = validateSamplingSettings(sampling({ [name]: value }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name} must be`));
  });

  it("accepts the edges of every range", () => {
    const edges = sampling({ temperature: 100, top_k: 2 ** 31 - 1, top_p: 1, repetition_penalty: 100, no_repeat_ngram_size: 2 ** 31 - 1 });
    expect(validateSamplingSettings(edges)).toEqual([]);
  });

  it("takes Hugging Face's legal values beyond the vocabulary and the context: top_k is clamped, a long n-gram bans nothing", () => {
    const logits = () => Float32Array.from({ length: 50257 }, (_, i) => Math.sin(i) * 3);
    const draw = (settings: Partial<SamplingSettings>) => {
      const chooser = createTokenChooser(sampling(settings), { eosTokenIds: [50256], promptIds: [1, 2, 1, 2], random: createRng(5) });
      return Array.from({ length: 8 }, () => {
        const token = chooser.next(logits());
        chooser.accept(token);
        return token;
      });
    };
    expect(draw({ top_k: 60000 })).toEqual(draw({ top_k: 0 }));
    expect(draw({ top_k: 0, no_repeat_ngram_size: 2000 })).toEqual(draw({ top_k: 0 }));
  });

  it("ignores sampling-only settings when greedy (HF ignores them too)", () => {
    expect(validateSamplingSettings({ ...SAMPLING_DEFAULTS, temperature: 0, top_p: 0 })).toEqual([]);
    expect(validateSamplingSettings({ ...SAMPLING_DEFAULTS, repetition_penalty: 0 })).toHaveLength(1);
  });

  it("describes ranges for error messages and docs", () => {
    expect(describeLimit(SAMPLING_LIMITS.temperature)).toBe("a number in (0, 100]");
    expect(describeLimit(SAMPLING_LIMITS.top_k)).toBe("an integer in [0, 2147483647]");
    expect(describeLimit(SAMPLING_LIMITS.min_new_tokens)).toBe("an integer >= 0");
  });
});
