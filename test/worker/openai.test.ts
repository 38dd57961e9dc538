// The official `openai` npm client against the Worker's OpenAI-compatible routes, inside workerd:
// the client's fetch goes to the Worker's deployed entry point (default model), or to the app
// with a chosen test model where a test needs one.
import { exports } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { envFor, generateJson, postJson } from "./helpers";

const worker = new OpenAI({
  apiKey: "unused",
  baseURL: "http://localhost/v1",
  maxRetries: 0,
  fetch: (url, init) => exports.default.fetch(String(url), init),
});

const SMALL = "synthetic-int8";
const small = new OpenAI({
  apiKey: "unused",
  baseURL: "http://localhost/v1",
  maxRetries: 0,
  fetch: async (url, init) => app.request(String(url), init, envFor(SMALL)),
});

const servedModel = async (client: OpenAI) => (await client.models.list()).data[0].id;

describe("openai client → /v1/completions", () => {
  it("lists the served model, and completes greedily exactly like /v1/generate", async () => {
    const models = await worker.models.list();
    expect(models.data).toHaveLength(1);
    const model = models.data[0].id;
    expect(await worker.models.retrieve(model)).toMatchObject({ id: model, object: "model" });

    const completion = await worker.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
    expect(completion).toMatchObject({ object: "text_completion", model, usage: { prompt_tokens: 4, completion_tokens: 8, total_tokens: 12 } });
    expect(completion.id).toMatch(/^cmpl-/);
    const reference = await generateJson({ prompt: "Once upon a time", max_new_tokens: 8 }, "assets:dev/tiny-int8");
    expect(completion.choices).toEqual([{ index: 0, text: reference.generations[0].text, logprobs: null, finish_reason: "length" }]);
  });

  it("streams chunks that add up to the same text, then usage, then [DONE]", async () => {
    const model = await servedModel(worker);
    const request = { model, prompt: "Hello there", max_tokens: 10, temperature: 0.8, seed: 11 };
    const whole = await worker.completions.create(request);
    const stream = await worker.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const reasons: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        text += choice.text;
        reasons.push(choice.finish_reason);
      }
    }
    expect(text).toBe(whole.choices[0].text);
    expect(reasons.filter((r) => r !== null)).toEqual([whole.choices[0].finish_reason]);
    expect(usage).toEqual(whole.usage);
  });

  it("numbers choices prompt-major across a prompt list with n samples each", async () => {
    const model = await servedModel(small);
    const base = { model, max_tokens: 5, seed: 3, temperature: 1, n: 2 };
    const both = await small.completions.create({ ...base, prompt: ["first prompt", "second"] });
    const second = await small.completions.create({ ...base, prompt: "second" });
    expect(both.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(both.choices.slice(2).map((c) => c.text)).toEqual(second.choices.map((c) => c.text));
    expect(both.usage!.prompt_tokens).toBe(2 + 1);
  });

  it("greedy with n > 1 repeats the one greedy text n times", async () => {
    const model = await servedModel(small);
    const completion = await small.completions.create({ model, prompt: "Same", max_tokens: 4, temperature: 0, n: 3 });
    expect(new Set(completion.choices.map((c) => c.text)).size).toBe(1);
    expect(completion.usage!.completion_tokens).toBe(12);
  });

  it("logprobs: the model's log-probabilities, top-N per token, greedy picks the top one", async () => {
    const model = await servedModel(small);
    const completion = await small.completions.create({ model, prompt: "Numbers", max_tokens: 6, temperature: 0, logprobs: 3 });
    const { text } = completion.choices[0];
    const logprobs = completion.choices[0].logprobs as Required<OpenAI.Completions.CompletionChoice.Logprobs>;
    expect(logprobs.tokens).toHaveLength(6);
    expect(logprobs.text_offset[0]).toBe(0);
    for (const [i, top] of logprobs.top_logprobs.entries()) {
      const values = Object.values(top);
      expect(values.length).toBeGreaterThan(0);
      expect(values.length).toBeLessThanOrEqual(3);
      expect(values.reduce((sum, v) => sum + Math.exp(v), 0)).toBeLessThanOrEqual(1 + 1e-6);
      expect(logprobs.token_logprobs[i]).toBeCloseTo(Math.max(...values), 5);
      expect(top[logprobs.tokens[i]]).toBeCloseTo(logprobs.token_logprobs[i], 5);
      if (i > 0) expect(logprobs.text_offset[i]).toBeGreaterThanOrEqual(logprobs.text_offset[i - 1]);
    }
    // Whole-character tokens spell the text; "bytes:\x.." tokens are parts of a character.
    if (!logprobs.tokens.some((t) => t.startsWith("bytes:"))) expect(logprobs.tokens.join("")).toBe(text);
  });

  it("echo returns the prompt before the completion", async () => {
    const model = await servedModel(small);
    const plain = await small.completions.create({ model, prompt: "Echo me", max_tokens: 3, temperature: 0 });
    const echoed = await small.completions.create({ model, prompt: "Echo me", max_tokens: 3, temperature: 0, echo: true });
    expect(echoed.choices[0].text).toBe("Echo me" + plain.choices[0].text);
  });

  it("logit_bias +100 forces a token; stop ends the text with finish_reason stop", async () => {
    const model = await servedModel(small);
    const forced = await small.completions.create({ model, prompt: "x", max_tokens: 4, temperature: 0, logit_bias: { "1820": 100 } });
    const reference = await generateJson({ prompt: "x", max_new_tokens: 4, logit_bias: { "1820": 100 } }, SMALL);
    expect(reference.generations[0].token_ids).toEqual([1820, 1820, 1820, 1820]);
    expect(forced.choices[0].text).toBe(reference.generations[0].text);
    const stopped = await small.completions.create({ model, prompt: "x", max_tokens: 4, temperature: 0, logit_bias: { "1820": 100 }, stop: reference.generations[0].text.slice(0, 1) });
    expect(stopped.choices[0]).toMatchObject({ text: "", finish_reason: "stop" });
  });
});

describe("OpenAI-shaped errors", () => {
  it("an unknown model is 404 model_not_found, as OpenAI answers", async () => {
    const error = await worker.completions.create({ model: "gpt-4", prompt: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: "model_not_found", param: "model" });
  });

  it("a field out of range is a 400 naming it", async () => {
    const model = await servedModel(small);
    const error = await small.completions.create({ model, prompt: "x", temperature: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, param: "temperature", type: "invalid_request_error" });
    expect((error as Error).message).toMatch(/temperature must be a number from 0 to 2/);
  });

  it.each([
    [{ prompt: "x", top_k: 5 }, "top_k", /unknown field/],
    [{ prompt: "x", suffix: "end" }, "suffix", /not supported/],
    [{ prompt: "x", best_of: 3 }, "best_of", /must equal n/],
    [{ prompt: "x", echo: true, logprobs: 2 }, "logprobs", /echo together with logprobs/],
    [{ prompt: "x", logprobs: 6 }, "logprobs", /from 0 to 5/],
    [{ prompt: "x", stream_options: { include_usage: true } }, "stream_options", /only allowed when stream is true/],
    [{ prompt: [1, 2, 3] }, "prompt", /token arrays are not supported/],
    [{ prompt: "x", presence_penalty: -3 }, "presence_penalty", /from -2 to 2/],
    [{ prompt: "x", logit_bias: { abc: 1 } }, "logit_bias.abc", /token ids/],
    [{ prompt: Array(40).fill("x").join(" "), max_tokens: 30 }, "max_tokens", /\+ max_tokens \(30\) exceeds the context window of 64/],
  ])("%j → 400 on %s", async (fields, param, message) => {
    const model = await servedModel(small);
    const response = await postJson("/v1/completions", { model, ...fields }, SMALL);
    const body = (await response.json()) as { error: { message: string; type: string; param: string; code: string | null } };
    expect(response.status).toBe(400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param, code: null });
    expect(body.error.message).toMatch(message);
  });

  it("native routes keep the native error shape (no `code`)", async () => {
    const body = (await (await postJson("/v1/generate", { prompt: 1 }, SMALL)).json()) as { error: object };
    expect(Object.keys(body.error).sort()).toEqual(["message", "param", "request_id", "type"]);
  });
});

describe("openai client → /v1/chat/completions", () => {
  it("raises NotFoundError pointing to /v1/completions, with the server's request id", async () => {
    const model = await servedModel(worker);
    const error = await worker.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const notFound = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(notFound.status).toBe(404);
    expect(notFound.message).toMatch(/GPT-2 is not a chat model.*POST \/v1\/completions/);
    expect(notFound.error).toMatchObject({ type: "not_found", param: null, code: null });
    expect(notFound.requestID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 404 in OpenAI's shape for any method", async () => {
    for (const method of ["GET", "POST", "PUT", "DELETE"]) {
      const response = await app.request("/v1/chat/completions", { method }, envFor(SMALL));
      expect(response.status, method).toBe(404);
      const body = (await response.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "request_id", "type"]);
      expect(body.error.message).toContain("/v1/completions");
    }
  });
});
