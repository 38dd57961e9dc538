// Generation for other Workers over a service binding (RPC), without HTTP in between:
//
//   [[services]]
//   binding = "GPT2"
//   service = "edge-gpt2"
//   entrypoint = "Gpt2Service"
//
//   const body = await env.GPT2.generate({ prompt: "Once upon a time", max_new_tokens: 20 });
//
// Requests and responses are exactly /v1/generate's JSON bodies, typed for callers in
// rpc-client.ts (with gpt2ErrorOf for thrown errors). A service binding is a capability granted in
// wrangler config, so API keys and rate limits do not apply here.
import { WorkerEntrypoint } from "cloudflare:workers";
import { badRequest, type ApiError } from "./errors";
import type { GenerateRequest } from "./generation/request";
import { generateResponseBody, startGeneration } from "./generation/service";
import { deploymentFor } from "./http/deployment";
import { reportError, toApiError } from "./http/error-response";
import { parseGenerateRequest } from "./http/generate-schema";
import { streamGeneration } from "./http/generate-stream";
import { analyticsOf, recordGeneration, type GenerationLog } from "./http/log";
import { acceptedRequestId } from "./http/request-id";
import { encodeGpt2ErrorMessage } from "./rpc-error";

/** generate()'s argument: a /v1/generate body that does not stream. Validated at run time too. */
export type GenerateRequestBody = GenerateRequest & { stream?: false };
/** generateStream()'s argument (`stream` is implied). */
export type GenerateStreamRequestBody = GenerateRequest & { stream?: boolean };
export type GenerateResponseBody = ReturnType<typeof generateResponseBody>;

export interface Gpt2CallOptions {
  /** Log (and analytics) id for this call, e.g. the caller's own x-request-id; default a new one. */
  requestId?: string;
}

export class Gpt2Service extends WorkerEntrypoint<Env> {
  /** Same body as POST /v1/generate (without `stream`) → same response body. */
  async generate(body: GenerateRequestBody, options: Gpt2CallOptions = {}): Promise<GenerateResponseBody> {
    const receivedAt = Date.now();
    const requestId = callId(options);
    try {
      const log = callLog(this.env, "rpc:generate", requestId);
      const { stream, ...request } = parseGenerateRequest(body, log.config.limits);
      if (stream) throw badRequest("generate() answers once; call generateStream() to stream", "stream");
      const running = startGeneration(deploymentFor(this.env).generation, request, receivedAt).then((prepared) => prepared.run());
      this.ctx.waitUntil(running.catch(() => undefined)); // see http/keep-alive.ts
      const outcome = await running;
      recordGeneration(log, request.prompt, outcome);
      return generateResponseBody(outcome);
    } catch (error) {
      throw rpcError(error, requestId);
    }
  }

  /**
   * The /v1/generate `stream: true` events (`token`, `finish`, then `done` or `error`) as a
   * text/event-stream byte stream: return it as a Response body to pass it on to a browser, or
   * parse it. Cancelling the stream stops the generation within one step.
   */
  async generateStream(body: GenerateStreamRequestBody, options: Gpt2CallOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const receivedAt = Date.now();
    const requestId = callId(options);
    try {
      const log = callLog(this.env, "rpc:generateStream", requestId);
      const { stream: _stream, ...request } = parseGenerateRequest(body, log.config.limits);
      const prepared = await startGeneration(deploymentFor(this.env).generation, request, receivedAt);
      const { stream, finished } = streamGeneration(prepared, { log });
      this.ctx.waitUntil(finished); // see http/keep-alive.ts
      return stream;
    } catch (error) {
      throw rpcError(error, requestId);
    }
  }
}

// Module functions, not methods: every method of an entrypoint, private or not, is callable over RPC.
const callId = (options: Gpt2CallOptions | undefined) =>
  acceptedRequestId(typeof options?.requestId === "string" ? options.requestId : null);

function callLog(env: Env, route: string, requestId: string): GenerationLog {
  return { config: deploymentFor(env).config, route, requestId, analytics: analyticsOf(env) };
}

/** An error as thrown to an RPC caller: see rpc-client.ts for why the details are in the message. */
export interface RpcApiError extends Error {
  status: number;
  type: ApiError["type"];
  param: string | null;
  request_id: string;
}

function rpcError(error: unknown, requestId: string): RpcApiError {
  const apiError = toApiError(error);
  reportError(error, apiError, requestId);
  const details = { status: apiError.status, type: apiError.type, param: apiError.param, request_id: requestId };
  const thrown = new Error(encodeGpt2ErrorMessage({ ...details, message: apiError.message })) as RpcApiError;
  thrown.name = "ApiError";
  // Kept where the runtime keeps own properties (and for callers in the same isolate).
  return Object.assign(thrown, details);
}
