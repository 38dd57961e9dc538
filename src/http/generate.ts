// POST /v1/generate: prompt + Hugging Face generation settings → generated text.
import type { Context } from "hono";
import { loadConfig } from "../config";
import { generateResponseBody, runGeneration } from "../generation/service";
import type { AppEnv } from "../app-env";
import { readJsonBody } from "./body";
import { parseGenerateRequest } from "./generate-schema";

export async function handleGenerate(c: Context<AppEnv>): Promise<Response> {
  const receivedAt = Date.now();
  const config = loadConfig(c.env);
  const request = parseGenerateRequest(await readJsonBody(c.req.raw, config.limits.maxBodyBytes), config.limits);
  const outcome = await runGeneration(c.env, request, { receivedAt, signal: c.req.raw.signal });
  return c.json(generateResponseBody(outcome));
}
