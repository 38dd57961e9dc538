import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import { ApiError } from "../../src/errors";
import { parseGenerateRequest } from "../../src/http/generate-schema";

const limits = loadConfig({}).limits;
const parse = (body: unknown) => parseGenerateRequest(body, limits);
const failure = (body: unknown) => {
  try {
    parse(body);
    return null;
  } catch (error) {
    return error instanceof ApiError ? { param: error.param, message: error.message, status: error.status } : String(error);
  }
};

describe("parseGenerateRequest", () => {
  it("accepts every documented field", () => {
    const body = {
      prompt: "x", max_new_tokens: 5, max_length: 9, min_new_tokens: 1, do_sample: true, temperature: 0.7, top_k: 0,
      top_p: 0.9, repetition_penalty: 1.1, no_repeat_ngram_size: 2, num_return_sequences: 2, seed: 0, stop: ["\n"],
    };
    expect(parse(body)).toEqual(body);
  });

  it("accepts Hugging Face's legal values beyond the vocabulary and the context (top_k is clamped, a long n-gram bans nothing)", () => {
    expect(parse({ prompt: "x", do_sample: true, top_k: 60000, no_repeat_ngram_size: 2000 })).toMatchObject({ top_k: 60000, no_repeat_ngram_size: 2000 });
  });

  it("turns a single stop string into a list", () => {
    expect(parse({ prompt: "x", stop: "END" }).stop).toEqual(["END"]);
  });

  it.each([
    [{ prompt: "x", stop: 5 }, "stop", /string or an array of strings/],
    [{ prompt: "x", stop: ["ok", 5] }, "stop[1]", /string or an array/],
    [{ prompt: "x", stop: ["x".repeat(65)] }, "stop[0]", /at most 64 characters/],
    [{ prompt: "x", temperature: Number.NaN }, "temperature", /a number in \(0, 100\]/],
    [{ prompt: "x", repetition_penalty: 101 }, "repetition_penalty", /a number in \(0, 100\]/],
    [{ prompt: "x", top_k: 2 ** 31 }, "top_k", /an integer in \[0, 2147483647\]/],
    [JSON.parse('{"prompt":"x","logit_bias":{"__proto__":5}}'), "logit_bias.__proto__", /token ids/],
    [{ prompt: "x", logit_bias: { abc: 5 } }, "logit_bias.abc", /token ids/],
    [{ prompt: "x", num_return_sequences: 9 }, "num_return_sequences", /from 1 to 8/],
    [{ prompt: "x", extra: 1, more: 2 }, "extra", /unknown field\(s\): extra, more/],
    [{ prompt: null }, "prompt", /must be a string/],
  ])("%j → 400 on %s", (body, param, message) => {
    const error = failure(body);
    expect(error).toMatchObject({ status: 400, param });
    expect((error as { message: string }).message).toMatch(message);
  });
});
