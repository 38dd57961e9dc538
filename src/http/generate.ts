// POST /v1/generate: prompt + Hugging Face generation settings → generated text, as one JSON body
// or (stream: true) as server-sent events.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { generateResponseBody, startGeneration } from "../generation/service";
import { readJsonBody } from "./body";
import { nativeErrorBody } from "./error-response";
import { parseGenerateRequest } from "./generate-schema";
import { streamGeneration } from "./generate-stream";
import { keepAlive } from "./keep-alive";
import { generationLog, recordGeneration } from "./log";
import { serverTiming } from "./server-timing";
import { SSE_HEADERS } from "./sse";
import { startedJson } from "./started-json";

export async function handleGenerate(c: Context<AppEnv>): Promise<Response> {
  const receivedAt = Date.now();
  const { config, generation, requestId } = c.var;
  const { stream, ...body } = parseGenerateRequest(await readJsonBody(c.req.raw, config.limits.maxBodyBytes), config.limits);
  const request = { ...body, cache: body.cache !== false && allowsCache(c.req.raw) };
  const prepared = await startGeneration(generation, request, receivedAt);
  const log = generationLog(c, "/v1/generate");
  const cache = { status: prepared.cacheStatus };
  const tokenize_ms = prepared.planned.tokenizeMs;
  const cacheHeader = { "x-cache": prepared.cacheStatus };
  if (stream) {
    const { stream, finished } = streamGeneration(prepared, { signal: c.req.raw.signal, log });
    keepAlive(c, finished);
    // The headers go out now, before queueing: only tokenization is known (see server-timing.ts).
    return new Response(stream, { headers: { ...SSE_HEADERS, ...cacheHeader, "Server-Timing": serverTiming({ tokenize_ms, cache }) } });
  }
  return startedJson(c, {
    headers: cacheHeader,
    headersAtStart: (prefillStartedAt) => ({ "Server-Timing": serverTiming({ tokenize_ms, queue_ms: prefillStartedAt - prepared.planned.plannedAt, cache }) }),
    run(options) {
      const running = prepared.run(options);
      keepAlive(c, running);
      return running;
    },
    render(outcome) {
      recordGeneration(log, request.prompt, outcome);
      return {
        body: generateResponseBody(outcome),
        // Used only when the answer is complete before the headers (a cache hit): every phase is known.
        headers: { "x-cache": outcome.cache.status, "Server-Timing": serverTiming({ ...outcome.timings, cache: outcome.cache }) },
      };
    },
    errorBody: (error) => nativeErrorBody(error, requestId),
  });
}

/** `Cache-Control: no-store` (or no-cache) on the request opts out of the response cache. */
export function allowsCache(request: Request): boolean {
  return !/\bno-(store|cache)\b/i.test(request.headers.get("cache-control") ?? "");
}
