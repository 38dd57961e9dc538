// Generation for other Workers over a service binding (RPC), without HTTP in between:
//
//   [[services]]
//   binding = "GPT2"
//   service = "edge-gpt2"
//   entrypoint = "Gpt2Service"
//
//   const body = await env.GPT2.generate({ prompt: "Once upon a time", max_new_tokens: 20 });
//
// Requests and responses are exactly /v1/generate's JSON bodies. A service binding is a
// capability granted in wrangler config, so API keys and rate limits do not apply here.
import { WorkerEntrypoint } from "cloudflare:workers";
import { badRequest, type ApiError } from "./errors";
import { generateResponseBody, startGeneration } from "./generation/service";
import { deploymentFor } from "./http/deployment";
import { reportError, toApiError } from "./http/error-response";
import { parseGenerateRequest } from "./http/generate-schema";
import { streamGeneration } from "./http/generate-stream";
import { logGeneration } from "./http/log";

export type GenerateResponseBody = ReturnType<typeof generateResponseBody>;

export class Gpt2Service extends WorkerEntrypoint<Env> {
  /** Same body as POST /v1/generate (without `stream`) → same response body. */
  async generate(body: unknown): Promise<GenerateResponseBody> {
    const receivedAt = Date.now();
    try {
      const { config, generation } = deploymentFor(this.env);
      const { stream, ...request } = parseGenerateRequest(body, config.limits);
      if (stream) throw badRequest("generate() answers once; call generateStream() to stream", "stream");
      const running = startGeneration(generation, request, receivedAt).then((prepared) => prepared.run());
      this.ctx.waitUntil(running.catch(() => undefined)); // see http/keep-alive.ts
      const outcome = await running;
      logGeneration(config, "rpc:generate", request.prompt, outcome);
      return generateResponseBody(outcome);
    } catch (error) {
      throw rpcError(error);
    }
  }

  /**
   * The /v1/generate `stream: true` events (`token`, `finish`, then `done` or `error`) as a
   * text/event-stream byte stream: return it as a Response body to pass it on to a browser, or
   * parse it. Cancelling the stream stops the generation within one step.
   */
  async generateStream(body: unknown): Promise<ReadableStream<Uint8Array>> {
    const receivedAt = Date.now();
    try {
      const { config, generation } = deploymentFor(this.env);
      const { stream: _stream, ...request } = parseGenerateRequest(body, config.limits);
      const prepared = await startGeneration(generation, request, receivedAt);
      const { stream, finished } = streamGeneration(prepared, { route: "rpc:generateStream", config });
      this.ctx.waitUntil(finished); // see http/keep-alive.ts
      return stream;
    } catch (error) {
      throw rpcError(error);
    }
  }
}

/**
 * What crosses the RPC boundary: Workers RPC keeps an Error's message and its own properties, so
 * callers get `status`, `type` and `param` (the field at fault) as on the HTTP API.
 */
export interface RpcApiError extends Error {
  status: number;
  type: ApiError["type"];
  param: string | null;
}

function rpcError(error: unknown): RpcApiError {
  const apiError = toApiError(error);
  reportError(error, apiError);
  const thrown = new Error(apiError.message) as RpcApiError;
  thrown.name = "ApiError";
  return Object.assign(thrown, { status: apiError.status, type: apiError.type, param: apiError.param });
}
