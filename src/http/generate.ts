// POST /v1/generate: prompt + Hugging Face generation settings → generated text.
import type { Context } from "hono";
import { loadConfig } from "../config";
import { generate } from "../generation/generate";
import { planGeneration } from "../generation/plan";
import { getModel } from "../session/registry";
import type { AppEnv } from "../app-env";
import { readJsonBody } from "./body";
import { parseGenerateRequest } from "./generate-schema";

export async function handleGenerate(c: Context<AppEnv>): Promise<Response> {
  const received = Date.now();
  const config = loadConfig(c.env);
  const request = parseGenerateRequest(await readJsonBody(c.req.raw, config.limits.maxBodyBytes), config.limits);
  const model = await getModel(config.model, c.env as unknown as Record<string, unknown>);
  const tokenizeStarted = Date.now();
  const plan = planGeneration(request, model.manifest, config.limits);
  const started = Date.now();
  const limit = config.limits.generationTimeoutMs;
  const result = await generate(model.session.forward, {
    ...plan,
    budget: { deadline: limit > 0 ? received + limit : null, signal: c.req.raw.signal, now: Date.now },
  });
  const completionTokens = result.sequences.reduce((sum, s) => sum + s.tokenIds.length, 0);
  const decodeSeconds = result.decodeMs / 1000;
  return c.json({
    model: model.manifest.name,
    generations: result.sequences.map((s, index) => ({
      index,
      text: s.text,
      token_ids: s.tokenIds,
      finish_reason: s.finishReason,
    })),
    usage: { prompt_tokens: plan.promptIds.length, completion_tokens: completionTokens, total_tokens: plan.promptIds.length + completionTokens },
    ...(plan.sampling.do_sample ? { seed: plan.seed } : {}),
    timings: {
      queue_ms: tokenizeStarted - received,
      tokenize_ms: started - tokenizeStarted,
      prefill_ms: result.prefillMs,
      decode_ms: result.decodeMs,
      total_ms: Date.now() - received,
      decode_steps: result.steps,
      decode_tokens_per_second: decodeSeconds > 0 ? Math.round((result.steps * plan.numSequences) / decodeSeconds * 10) / 10 : null,
    },
  });
}
