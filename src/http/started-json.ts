// A non-streaming JSON answer that notices a client who goes away. workerd only tells a Worker
// about a disconnect through the response body it is writing (request.signal fires only with the
// enable_request_signal flag, and not behind wrangler dev's proxy), so once the engine starts a
// request its 200 headers go out and the body stays open: JSON-insignificant whitespace is written
// while tokens are generated (at most every HEARTBEAT_MS), then the JSON itself. A client that
// disconnects cancels the body, which stops the generation within one step. Until the engine
// starts it (validation, model load, queueing, cache hits) nothing is sent, so every error before
// that keeps its own status code; a failure after it (a broken model step) ends the body with the
// error JSON instead.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import type { RunOptions } from "../generation/service";
import { bodyWriter } from "./body-writer";
import { reportError, toApiError } from "./error-response";

const HEARTBEAT_MS = 50;

export interface StartedJsonOptions<T> {
  /** Runs the generation with these options (a signal that also fires on disconnect, onStart, a listener). */
  run(options: Required<Pick<RunOptions, "signal" | "onStart" | "listener">>): Promise<T>;
  /** The body and headers for the finished run. */
  render(outcome: T): { body: unknown; headers?: Record<string, string> };
  /** Headers known before the run (e.g. x-cache); sent with the 200 once the engine starts. */
  headers: Record<string, string>;
  /** Headers computed when the engine starts the run, just before the 200 goes out (Server-Timing),
   * given the time its prefill began. */
  headersAtStart?: (prefillStartedAt: number) => Record<string, string>;
  errorBody(error: ReturnType<typeof toApiError>): unknown;
}

export async function startedJson<T>(c: Context<AppEnv>, options: StartedJsonOptions<T>): Promise<Response> {
  // Made before the run starts (the run needs its signal); returned only if the engine starts it.
  const body = bodyWriter(c.req.raw.signal);
  let onStart!: (prefillStartedAt: number) => void;
  let prefillStartedAt = 0;
  const started = new Promise<void>((resolve) => (onStart = (at) => {
    prefillStartedAt = at;
    resolve();
  }));
  let streaming = false;
  let lastBeat = Date.now();
  const heartbeat = () => {
    if (streaming && Date.now() - lastBeat >= HEARTBEAT_MS) {
      lastBeat = Date.now();
      body.write(" ");
    }
  };
  const running = options.run({ signal: body.signal, onStart, listener: { token: heartbeat, finish: () => undefined } });
  const first = await Promise.race([running.then((outcome) => ({ outcome })), started.then(() => null)]);
  if (first) {
    // Answered before the engine started (a cache hit): an ordinary JSON response.
    const { body: json, headers } = options.render(first.outcome);
    return c.json(json as object, 200, { ...options.headers, ...headers });
  }
  streaming = true;
  running.then(
    (outcome) => finish(JSON.stringify(options.render(outcome).body)),
    (error: unknown) => {
      const apiError = toApiError(error);
      reportError(error, apiError, c.var.requestId);
      finish(JSON.stringify(options.errorBody(apiError)));
    },
  );
  function finish(text: string): void {
    body.write(text);
    body.close();
  }
  // Content-Encoding identity: Cloudflare (and wrangler dev) would otherwise gzip a JSON body for
  // clients that accept it, and the compressor holds the whitespace back until the body ends —
  // then a disconnect is noticed only at the very end.
  const atStart = options.headersAtStart?.(prefillStartedAt) ?? {};
  return new Response(body.stream, { status: 200, headers: { "content-type": "application/json", "content-encoding": "identity", "cache-control": "no-store", ...options.headers, ...atStart } });
}
