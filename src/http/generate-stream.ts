// `stream: true` on /v1/generate (and the RPC streaming method): the same generation as the JSON
// route, told token by token as server-sent events.
//
//   event: token   data: {"index":0,"token_id":612,"text":" there"}
//   event: finish  data: {"index":0,"finish_reason":"length","text":""}   (text: what was held back)
//   event: done    data: <the /v1/generate response body>
//   event: error   data: {"error":{"type","message","param","request_id"}} (instead of `done`)
//
// The generation is prepared (validated, planned, model loaded) before the stream opens, so those
// failures stay ordinary JSON errors with their status code.
import type { GenerationListener } from "../engine/sequence";
import { generateResponseBody, type GenerationOutcome, type PreparedGeneration } from "../generation/service";
import { nativeErrorBody, reportError, toApiError } from "./error-response";
import { recordGeneration, type GenerationLog } from "./log";
import { eventStream, sseFrame } from "./sse";

export interface StreamedGeneration {
  stream: ReadableStream<Uint8Array>;
  /** The outcome once the decode loop ended (finish_reason "cancelled" after a disconnect), or null after an error. */
  finished: Promise<GenerationOutcome | null>;
}

export function streamGeneration(
  prepared: PreparedGeneration,
  options: { signal?: AbortSignal; log: GenerationLog },
): StreamedGeneration {
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
      outcome = await prepared.run({ signal: sink.signal, listener });
      recordGeneration(options.log, prepared.planned.request.prompt, outcome);
      sink.write(sseFrame(generateResponseBody(outcome), "done"));
    },
    {
      upstream: options.signal,
      errorFrame(error) {
        const apiError = toApiError(error);
        reportError(error, apiError, options.log.requestId);
        return sseFrame(nativeErrorBody(apiError, options.log.requestId), "error");
      },
    },
  );
  return { stream, finished: done.then(() => outcome) };
}
