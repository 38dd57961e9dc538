// `stream: true` on /v1/generate (and the RPC streaming method): the same generation as the JSON
// route, told token by token as server-sent events.
//
//   event: token   data: {"index":0,"token_id":612,"text":" there"}
//   event: finish  data: {"index":0,"finish_reason":"length","text":""}   (text: what was held back)
//   event: done    data: <the /v1/generate response body>
//   event: error   data: {"error":{"type","message","param"}}             (instead of `done`)
//
// Validation and model loading happen before the stream opens, so those failures stay ordinary
// JSON errors with their status code.
import { loadConfig, type ConfigVars } from "../config";
import type { GenerationListener } from "../generation/generate";
import { generateResponseBody, prepareGeneration, runPlanned, type GenerationOutcome } from "../generation/service";
import { reportError, toApiError } from "./error-response";
import type { GenerateRequest } from "./generate-schema";
import { logGeneration } from "./log";
import { eventStream, sseFrame } from "./sse";

export interface StreamedGeneration {
  stream: ReadableStream<Uint8Array>;
  /** The outcome once the decode loop ended (finish_reason "cancelled" after a disconnect), or null after an error. */
  finished: Promise<GenerationOutcome | null>;
}

export async function streamGeneration(
  env: ConfigVars,
  request: GenerateRequest,
  options: { receivedAt?: number; signal?: AbortSignal; route: string; cache?: boolean },
): Promise<StreamedGeneration> {
  const receivedAt = options.receivedAt ?? Date.now();
  const { model, plan, readyAt } = await prepareGeneration(env, request);
  let outcome: GenerationOutcome | null = null;
  const { stream, done } = eventStream(
    async (sink) => {
      const listener: GenerationListener = {
        token(index, tokenId, text) {
          sink.write(sseFrame({ index, token_id: tokenId, text }, "token"));
        },
        finish(index, reason, text) {
          sink.write(sseFrame({ index, finish_reason: reason, text }, "finish"));
        },
      };
      outcome = await runPlanned(env, model, plan, { receivedAt, signal: sink.signal, listener, cache: options.cache }, readyAt);
      logGeneration(loadConfig(env), options.route, request.prompt, outcome);
      sink.write(sseFrame(generateResponseBody(outcome), "done"));
    },
    {
      upstream: options.signal,
      errorFrame(error) {
        const apiError = toApiError(error);
        reportError(error, apiError);
        return sseFrame(apiError.toJSON(), "error");
      },
    },
  );
  return { stream, finished: done.then(() => outcome) };
}
