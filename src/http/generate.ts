// POST /v1/generate: prompt + Hugging Face generation settings → generated text, as one JSON body
// or (stream: true) as server-sent events.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { generateResponseBody, startGeneration } from "../generation/service";
import { readJsonBody } from "./body";
import { parseGenerateRequest } from "./generate-schema";
import { streamGeneration } from "./generate-stream";
import { keepAlive } from "./keep-alive";
import { logGeneration } from "./log";
import { SSE_HEADERS } from "./sse";
import { startedJson } from "./started-json";

export async function handleGenerate(c: Context<AppEnv>): Promise<Response> {
  const receivedAt = Date.now();
  const { config, generation } = c.var;
  const { stream, ...body } = parseGenerateRequest(await readJsonBody(c.req.raw, config.limits.maxBodyBytes), config.limits);
  const request = { ...body, cache: body.cache !== false && allowsCache(c.req.raw) };
  const prepared = await startGeneration(generation, request, receivedAt);
  const cacheHeader = { "x-cache": prepared.cacheStatus };
  if (stream) {
    const { stream, finished } = streamGeneration(prepared, { signal: c.req.raw.signal, route: "/v1/generate", config });
    keepAlive(c, finished);
    return new Response(stream, { headers: { ...SSE_HEADERS, ...cacheHeader } });
  }
  return startedJson(c, {
    headers: cacheHeader,
    run(options) {
      const running = prepared.run(options);
      keepAlive(c, running);
      return running;
    },
    render(outcome) {
      logGeneration(config, "/v1/generate", request.prompt, outcome);
      return { body: generateResponseBody(outcome), headers: { "x-cache": outcome.cache.status } };
    },
    errorBody: (error) => error.toJSON(),
  });
}

/** `Cache-Control: no-store` (or no-cache) on the request opts out of the response cache. */
export function allowsCache(request: Request): boolean {
  return !/\bno-(store|cache)\b/i.test(request.headers.get("cache-control") ?? "");
}
