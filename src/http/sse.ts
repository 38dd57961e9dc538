// A text/event-stream body fed by an async producer. Our own rather than Hono's streamSSE: the RPC
// entrypoint (rpc.ts generateStream) must hand another Worker a plain ReadableStream, which
// streamSSE (a Response bound to a Hono Context) cannot give; one writer serves both transports.
// The producer gets an AbortSignal that fires when the client goes away (the body is cancelled), so the decode loop stops within one step;
// anything the producer throws after the stream opened goes out as a final error frame instead of
// a dropped connection.

import { bodyWriter } from "./body-writer";

export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  // Proxies (nginx) must not buffer a token stream.
  "X-Accel-Buffering": "no",
};

/** One SSE frame: an optional `event:` line and one JSON (or literal) `data:` line. */
export function sseFrame(data: unknown, event?: string): string {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ""}data: ${payload}\n\n`;
}

export interface EventSink {
  /** Fires when the consumer cancels the stream (or `upstream` aborts). */
  readonly signal: AbortSignal;
  /** Queues a frame; a no-op once the stream is closed or cancelled. */
  write(frame: string): void;
}

export interface EventStream {
  stream: ReadableStream<Uint8Array>;
  /** Settles when the producer is done (never rejects: errors became frames). */
  done: Promise<void>;
}

export function eventStream(
  produce: (sink: EventSink) => Promise<void>,
  options: { errorFrame: (error: unknown) => string; upstream?: AbortSignal },
): EventStream {
  const body = bodyWriter(options.upstream);
  const sink: EventSink = { signal: body.signal, write: (frame) => body.write(frame) };
  const done = (async () => {
    try {
      await produce(sink);
    } catch (error) {
      sink.write(options.errorFrame(error));
    } finally {
      body.close();
    }
  })();
  return { stream: body.stream, done };
}
