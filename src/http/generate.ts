// POST /v1/generate: prompt + Hugging Face generation settings → generated text, as one JSON body
// or (stream: true) as server-sent events.
import type { Context } from "hono";
import { loadConfig } from "../config";
import { generateResponseBody, runGeneration } from "../generation/service";
import type { AppEnv } from "../app-env";
import { readJsonBody } from "./body";
import { parseGenerateRequest } from "./generate-schema";
import { streamGeneration } from "./generate-stream";
import { keepAlive } from "./keep-alive";
import { logGeneration } from "./log";
import { SSE_HEADERS } from "./sse";

export async function handleGenerate(c: Context<AppEnv>): Promise<Response> {
  const receivedAt = Date.now();
  const config = loadConfig(c.env);
  const request = parseGenerateRequest(await readJsonBody(c.req.raw, config.limits.maxBodyBytes), config.limits);
  if (request.stream) {
    const { stream, finished } = await streamGeneration(c.env, request, { receivedAt, signal: c.req.raw.signal, route: "/v1/generate", cache: allowsCache(c.req.raw) });
    keepAlive(c, finished);
    return new Response(stream, { headers: SSE_HEADERS });
  }
  const running = runGeneration(c.env, request, { receivedAt, signal: c.req.raw.signal, cache: allowsCache(c.req.raw) });
  keepAlive(c, running);
  const outcome = await running;
  logGeneration(config, "/v1/generate", request.prompt, outcome);
  c.header("x-cache", outcome.cache.status);
  return c.json(generateResponseBody(outcome));
}

/** `Cache-Control: no-store` (or no-cache) on the request opts out of the response cache. */
export function allowsCache(request: Request): boolean {
  return !/\bno-(store|cache)\b/i.test(request.headers.get("cache-control") ?? "");
}
