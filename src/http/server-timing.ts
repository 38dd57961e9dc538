// Server-Timing (https://w3c.github.io/server-timing/) for generation responses: browsers show it
// in devtools and expose it to pages (PerformanceResourceTiming.serverTiming, CORS permitting).
//
// A header can only say what is known when the headers go out, and Workers cannot send HTTP
// trailers. So: a cache hit is complete before its headers and gets every phase; a non-streaming
// answer sends its headers when the engine starts it (src/http/started-json.ts), so it gets
// tokenize and queue; a stream's headers go out before queueing, so it gets tokenize only. The
// full timings are always in the body (`timings`, or the stream's `done` event), the log line and
// the Analytics Engine data point.

export interface KnownTimings {
  tokenize_ms?: number;
  /** Receipt to engine start: model load and waiting for a batch slot. */
  queue_ms?: number;
  prefill_ms?: number;
  decode_ms?: number;
  total_ms?: number;
  /** x-cache's value, and where a hit came from ("memory", "edge", "coalesced"). */
  cache?: { status: string; source?: string };
}

const PHASES = [
  ["tokenize", "tokenize_ms"],
  ["queue", "queue_ms"],
  ["prefill", "prefill_ms"],
  ["decode", "decode_ms"],
  ["total", "total_ms"],
] as const;

/** `tokenize;dur=0.4, queue;dur=12, cache;desc="hit memory"`: the phases known, in request order. */
export function serverTiming(timings: KnownTimings): string {
  const parts: string[] = [];
  for (const [name, key] of PHASES) {
    const ms = timings[key];
    if (ms !== undefined && Number.isFinite(ms)) parts.push(`${name};dur=${Math.max(0, Math.round(ms * 10) / 10)}`);
  }
  if (timings.cache) {
    const { status, source } = timings.cache;
    parts.push(`cache;desc="${source && status === "hit" ? `${status} ${source}` : status}"`);
  }
  return parts.join(", ");
}
