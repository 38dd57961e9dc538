import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { ApiError } from "../../src/errors";
import { planGeneration } from "../../src/generation/plan";
import type { GenerateRequest } from "../../src/generation/request";
import { MANIFEST_FORMAT, type ModelManifest } from "../../src/model/manifest";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";

const manifest = (n_positions: number): ModelManifest => ({
  format: MANIFEST_FORMAT,
  name: "test",
  architecture: { model_type: "gpt2", n_layer: 1, n_head: 1, n_embd: 8, n_positions, vocab_size: 50257, layer_norm_epsilon: 1e-5 },
  dtype: "fp32",
  tokenizer: { name: "r50k_base", eos_token_id: 50256, bos_token_id: 50256 },
  io: { inputs: [], outputs: [] },
  files: [],
  source: { checkpoint: "x", config_sha256: "", weights_sha256: "" },
  created_by: "test",
});
const limits = loadConfig({}).limits;
const plan = (request: Partial<GenerateRequest>, window = 1024) =>
  planGeneration({ prompt: "one two three four", ...request } as GenerateRequest, manifest(window), limits);
const rejection = (request: Partial<GenerateRequest>, window = 1024) => {
  try {
    plan(request, window);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, param: error.param, message: error.message };
  }
  return null;
};

describe("planGeneration", () => {
  it("max_length counts the prompt; max_new_tokens wins when both are given", () => {
    expect(plan({ max_length: 10 }).maxNewTokens).toBe(6);
    expect(plan({ max_length: 10, max_new_tokens: 3 }).maxNewTokens).toBe(3);
  });

  it("defaults to DEFAULT_MAX_NEW_TOKENS, clamped to the context window", () => {
    expect(plan({}).maxNewTokens).toBe(limits.defaultMaxNewTokens);
    expect(plan({}, 10).maxNewTokens).toBe(6);
  });

  it("states the token counts when the prompt does not fit", () => {
    expect(rejection({}, 4)).toMatchObject({ status: 400, param: "prompt", message: expect.stringContaining("prompt is more than 3 tokens; the model's context window is 4 tokens") });
    expect(rejection({ max_new_tokens: 7 }, 10)).toMatchObject({ param: "max_new_tokens", message: expect.stringContaining("(4 tokens) + max_new_tokens (7) exceeds the context window of 10") });
    expect(rejection({ max_length: 4 })).toMatchObject({ param: "max_length" });
    expect(rejection({ max_length: 2000 })).toMatchObject({ param: "max_length", message: expect.stringContaining("1024") });
    expect(rejection({ max_length: 1000 })).toMatchObject({ param: "max_length", message: expect.stringContaining("at most 512") });
  });

  it("an empty prompt becomes the BOS token", () => {
    expect(plan({ prompt: "" }).promptIds).toEqual([50256]);
  });

  it("rejects several greedy sequences, as Hugging Face does", () => {
    expect(rejection({ num_return_sequences: 2 })).toMatchObject({ param: "num_return_sequences" });
    expect(plan({ num_return_sequences: 2, do_sample: true }).numSequences).toBe(2);
  });

  it("fills Hugging Face defaults", () => {
    const p = plan({ stop: ["\n"] });
    expect(p.sampling).toEqual(SAMPLING_DEFAULTS);
    expect(p.stop).toEqual(["\n"]);
    expect(plan({ seed: 7 }).seed).toBe(7);
  });
});
