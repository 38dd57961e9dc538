// `stream: true` on POST /v1/generate: server-sent events inside workerd with a real model.
import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../src/errors";
import { sseFrame, eventStream } from "../../src/http/sse";
import { generateJson, postJson } from "./helpers";
import { parseEvents, readEvents, type SseEvent } from "./sse-helpers";

const MODEL = "synthetic-int8";

type TokenEvent = { index: number; token_id: number; text: string };
type FinishEvent = { index: number; finish_reason: string; text: string };

/** Text per sequence as a client rebuilds it: token deltas, then the finish event's rest. */
function textOf(events: SseEvent[], index = 0): string {
  return events
    .filter((e) => (e.event === "token" || e.event === "finish") && (e.data as TokenEvent).index === index)
    .map((e) => (e.data as TokenEvent | FinishEvent).text)
    .join("");
}

describe("POST /v1/generate with stream: true", () => {
  it("streams one event per token, then finish and done, matching the JSON response", async () => {
    const request = { prompt: "Once upon a time", max_new_tokens: 12 };
    const response = await postJson("/v1/generate", { ...request, stream: true }, MODEL);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readEvents(response);
    const json = await generateJson(request, MODEL);

    expect(events.map((e) => e.event)).toEqual([...Array(12).fill("token"), "finish", "done"]);
    expect(events.filter((e) => e.event === "token").map((e) => (e.data as TokenEvent).token_id)).toEqual(json.generations[0].token_ids);
    expect(textOf(events)).toBe(json.generations[0].text);
    expect(events[12].data).toEqual({ index: 0, finish_reason: "length", text: expect.any(String) });
    const done = events[13].data as typeof json;
    expect(done.generations).toEqual(json.generations);
    expect(done.usage).toEqual(json.usage);
    expect(Object.keys(done.timings)).toContain("decode_ms");
  });

  it("streams every sequence of a sampled batch, each with its own finish event", async () => {
    const request = { prompt: "Tell me", max_new_tokens: 6, do_sample: true, top_k: 0, seed: 5, num_return_sequences: 3 };
    const events = await readEvents(await postJson("/v1/generate", { ...request, stream: true }, MODEL));
    const json = await generateJson(request, MODEL);
    for (const index of [0, 1, 2]) expect(textOf(events, index)).toBe(json.generations[index].text);
    expect(events.filter((e) => e.event === "finish")).toHaveLength(3);
    expect((events.at(-1)!.data as typeof json).seed).toBe(5);
  });

  it("never streams (part of) a stop string", async () => {
    const full = (await generateJson({ prompt: "Stop", max_new_tokens: 16 }, MODEL)).generations[0].text;
    const stop = full.slice(4, 8);
    const events = await readEvents(await postJson("/v1/generate", { prompt: "Stop", max_new_tokens: 16, stop, stream: true }, MODEL));
    const streamed = textOf(events);
    expect(streamed).toBe(full.slice(0, full.indexOf(stop)));
    expect(events.find((e) => e.event === "finish")!.data).toMatchObject({ finish_reason: "stop" });
  });

  it("bad input is still an ordinary JSON 400 (the stream never opens)", async () => {
    for (const [body, param] of [[{ prompt: "x", stream: "yes" }, "stream"], [{ prompt: "x", stream: true, top_p: 3 }, "top_p"]] as const) {
      const response = await postJson("/v1/generate", body, MODEL);
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/json/);
      expect(((await response.json()) as { error: { param: string } }).error.param).toBe(param);
    }
  });
});

describe("client disconnect", () => {
  afterEach(() => vi.restoreAllMocks());

  it("cancelling the body stops the decode loop (finish_reason cancelled, few tokens)", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
    const response = await postJson("/v1/generate", { prompt: "Go", max_new_tokens: 60, stream: true }, MODEL);
    const reader = response.body!.getReader();
    await reader.read(); // the first token frame
    await reader.cancel();

    // The loop notices at its next step and the generation ends; the log line says how.
    await vi.waitFor(() => expect(logged.some((line) => line.includes('"route":"/v1/generate"'))).toBe(true), { timeout: 10_000 });
    const line = JSON.parse(logged.find((l) => l.includes('"route":"/v1/generate"'))!) as { finish_reasons: string[]; completion_tokens: number };
    expect(line.finish_reasons).toEqual(["cancelled"]);
    // One token was read; the loop may have finished the step it was in, not more (margin for
    // a token generated while the cancel was on its way).
    expect(line.completion_tokens).toBeLessThanOrEqual(4);
  });
});

describe("client disconnect through the deployed entry point", () => {
  afterEach(() => vi.restoreAllMocks());

  it("the isolate keeps serving after a client hangs up mid-stream", async () => {
    // workerd drops a disconnected request's pending work; a generation abandoned mid-step used
    // to leave the shared decode loop waiting forever, hanging every later request.
    const logged: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
    const post = (body: unknown) => exports.default.fetch("http://localhost/v1/generate", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const streamed = await post({ prompt: "Hang up", max_new_tokens: 300, stream: true });
    const reader = streamed.body!.getReader();
    await reader.read();
    await reader.cancel();
    await vi.waitFor(() => expect(logged.join("\n")).toMatch(/"finish_reasons":\["cancelled"\]/), { timeout: 10_000 });
    const next = await post({ prompt: "Still there?", max_new_tokens: 3 });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { generations: { token_ids: number[] }[] }).generations[0].token_ids).toHaveLength(3);
  });
});

describe("errors after the stream opened", () => {
  const collect = async (stream: ReadableStream<Uint8Array>) => parseEvents(await new Response(stream).text());
  const errorFrame = (error: unknown) => sseFrame(error instanceof ApiError ? error.toJSON() : { error: { type: "internal_error" } }, "error");

  it("become a final `event: error` frame after what was already sent, and the stream closes", async () => {
    const { stream, done } = eventStream(async (sink) => {
      sink.write(sseFrame({ index: 0, token_id: 1, text: "a" }, "token"));
      throw new ApiError(503, "model_unavailable", "the model went away");
    }, { errorFrame });
    const events = await collect(stream);
    await done;
    expect(events).toEqual([
      { event: "token", data: { index: 0, token_id: 1, text: "a" } },
      { event: "error", data: { error: { type: "model_unavailable", message: "the model went away", param: null } } },
    ]);
  });

  it("a cancelled stream aborts the producer's signal and drops later writes", async () => {
    let aborted = false;
    const { stream, done } = eventStream(async (sink) => {
      sink.write(sseFrame({ n: 1 }));
      await new Promise<void>((resolve) => sink.signal.addEventListener("abort", () => resolve()));
      aborted = sink.signal.aborted;
      sink.write(sseFrame({ n: 2 })); // must not throw although the stream is gone
    }, { errorFrame });
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel();
    await done;
    expect(aborted).toBe(true);
  });
});
