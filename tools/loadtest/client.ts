// One request to POST /v1/generate, as a plain JSON call or as a server-sent-event stream, with
// what the load test needs from it: status, latency, time to first token, the final body, and for
// streams every token and finish event.
import type { GenerateBody } from "./workload";

export interface Generation {
  index: number;
  text: string;
  token_ids: number[];
  finish_reason: string;
}

export interface GenerateResponseBody {
  model: string;
  generations: Generation[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; cached_tokens?: number };
  seed?: number;
  timings: Record<string, unknown>;
}

export interface StreamEvents {
  /** Per sequence index: the token events in order. */
  tokens: Map<number, { token_id: number; text: string }[]>;
  /** Per sequence index: the finish event. */
  finishes: Map<number, { finish_reason: string; text: string }>;
}

export interface Observation {
  /** 0 when no HTTP response arrived (connection error, timeout). */
  status: number;
  latencyMs: number;
  /** Streams only: time until the first token event. */
  ttftMs?: number;
  body?: GenerateResponseBody;
  events?: StreamEvents;
  /** Why the call failed: non-2xx, broken stream, error frame, timeout. */
  error?: string;
}

export async function sendGenerate(baseUrl: string, body: GenerateBody, timeoutMs: number): Promise<Observation> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  try {
    const response = await fetch(`${baseUrl}/v1/generate`, {
      method: "POST",
      // no-store: also ask the server not to answer from (or fill) its response cache.
      headers: { "content-type": "application/json", "cache-control": "no-store" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      const text = await response.text();
      return { status: response.status, latencyMs: elapsed(), error: `HTTP ${response.status}: ${text.slice(0, 300)}` };
    }
    if (!body.stream) return { status: 200, latencyMs: elapsed(), body: (await response.json()) as GenerateResponseBody };
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream")) {
      return { status: 200, latencyMs: elapsed(), error: `stream answered with Content-Type ${type}` };
    }
    return await readStream(response, started);
  } catch (error) {
    const name = (error as Error).name;
    const what = name === "TimeoutError" || name === "AbortError" ? `timeout after ${timeoutMs} ms` : `connection error: ${(error as Error).message}`;
    return { status: 0, latencyMs: elapsed(), error: what };
  }
}

async function readStream(response: Response, started: number): Promise<Observation> {
  const events: StreamEvents = { tokens: new Map(), finishes: new Map() };
  const decoder = new TextDecoder();
  let buffer = "";
  let ttftMs: number | undefined;
  let done: GenerateResponseBody | undefined;
  let error: string | undefined;

  const handle = (frame: string) => {
    let event = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    const payload = JSON.parse(data.join("\n"));
    if (event === "token") {
      ttftMs ??= performance.now() - started;
      const list = events.tokens.get(payload.index) ?? [];
      list.push({ token_id: payload.token_id, text: payload.text });
      events.tokens.set(payload.index, list);
    } else if (event === "finish") {
      if (events.finishes.has(payload.index)) error ??= `two finish events for sequence ${payload.index}`;
      events.finishes.set(payload.index, { finish_reason: payload.finish_reason, text: payload.text });
    } else if (event === "done") {
      done = payload;
    } else if (event === "error") {
      error ??= `error frame: ${JSON.stringify(payload).slice(0, 300)}`;
    } else {
      error ??= `unexpected event ${JSON.stringify(event)}`;
    }
  };

  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (frame.trim()) {
        try {
          handle(frame);
        } catch (parseError) {
          error ??= `unparseable frame ${JSON.stringify(frame.slice(0, 200))}: ${(parseError as Error).message}`;
        }
      }
    }
  }
  const latencyMs = performance.now() - started;
  if (buffer.trim()) error ??= `stream ended inside a frame: ${JSON.stringify(buffer.slice(0, 200))}`;
  if (!done) error ??= "broken stream: it ended without a done event";
  return { status: 200, latencyMs, ttftMs, body: done, events, error };
}
