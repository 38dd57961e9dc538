// A response body written piece by piece that tells its writer when the client goes away. workerd
// reports a disconnect through the body (the stream is cancelled), so both the event stream
// (sse.ts) and the non-streaming JSON answer (started-json.ts) are built on this one writer: the
// signal fires on cancel (or when `upstream` aborts), and writes after that are dropped.

const encoder = new TextEncoder();

export interface BodyWriter {
  readonly stream: ReadableStream<Uint8Array>;
  /** Fires when the consumer cancels the body, or `upstream` aborts. */
  readonly signal: AbortSignal;
  /** Whether writes still reach the client (not closed, not cancelled). */
  readonly open: boolean;
  /** Queues text; a no-op once the body is closed or cancelled. */
  write(text: string): void;
  /** Ends the body; a no-op when it already ended. */
  close(): void;
}

export function bodyWriter(upstream?: AbortSignal): BodyWriter {
  const cancelled = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel(reason) {
      open = false;
      cancelled.abort(reason ?? new Error("the client closed the connection"));
    },
  });
  return {
    stream,
    signal: upstream ? AbortSignal.any([cancelled.signal, upstream]) : cancelled.signal,
    get open() {
      return open;
    },
    write(text) {
      if (open) controller.enqueue(encoder.encode(text));
    },
    close() {
      if (!open) return;
      open = false;
      controller.close();
    },
  };
}
