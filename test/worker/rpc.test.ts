// Another Worker generates text through a service binding to the Gpt2Service entrypoint (RPC):
// test/worker/rpc-caller-worker.js runs as an auxiliary Worker (see vitest.config.ts) and the
// Worker under test serves its default model (as a deployment would).
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeGpt2ErrorMessage, gpt2ErrorOf } from "../../src/rpc-error";
import { readEvents } from "./sse-helpers";

const caller = (env as unknown as { RPC_CALLER: Fetcher }).RPC_CALLER;
const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  caller.fetch(`http://rpc-caller${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("Gpt2Service over a service binding", () => {
  afterEach(() => vi.restoreAllMocks());

  it("generate() returns the /v1/generate response body", async () => {
    const request = { prompt: "Once upon a time", max_new_tokens: 6, do_sample: true, seed: 7 };
    const response = await call("/generate", request);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { generations: { text: string; token_ids: number[] }[]; usage: { completion_tokens: number }; seed: number };
    expect(body.generations[0].token_ids.length).toBeGreaterThan(0);
    expect(body.seed).toBe(7);
    // Same request over HTTP → same generation (one service behind both transports).
    const http = await exports.default.fetch("http://localhost/v1/generate", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request),
    });
    const httpBody = (await http.json()) as typeof body;
    expect(httpBody.generations).toEqual(body.generations);
  });

  it("generateStream() streams token events the caller can pass on as a Response body", async () => {
    const response = await call("/stream", { prompt: "Hello", max_new_tokens: 5 });
    expect(response.status).toBe(200);
    const events = await readEvents(response);
    const tokens = events.filter((e) => e.event === "token");
    expect(tokens.length).toBe(5);
    const done = events.at(-1)!;
    expect(done.event).toBe("done");
    const body = done.data as { generations: { text: string; token_ids: number[] }[] };
    expect(tokens.map((e) => (e.data as { token_id: number }).token_id)).toEqual(body.generations[0].token_ids);
  });

  it("a caller cancelling the stream stops the generation, and the service keeps serving", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
    const first = await (await call("/stream-then-cancel", { prompt: "Cancel me", max_new_tokens: 300 })).text();
    expect(first).toMatch(/^event: token\n/);
    await vi.waitFor(() => expect(logged.join("\n")).toMatch(/"route":"rpc:generateStream".*"finish_reasons":\["cancelled"\]/), { timeout: 10_000 });
    expect((await call("/generate", { prompt: "Next", max_new_tokens: 2 })).status).toBe(200);
  });

  it("a bad request is thrown as an error whose status, type, field and request id gpt2ErrorOf reads from the message", async () => {
    const response = await call("/generate", { prompt: "x", top_p: 2 }, { "x-request-id": "caller-trace-1" });
    expect(response.status).toBe(502);
    const { thrown } = (await response.json()) as { thrown: { name: string; message: string } };
    // Only name and message are relied on: separate Workers lose own properties (test/dev/rpc-sessions.test.ts).
    const details = gpt2ErrorOf(new Error(thrown.message));
    // The message the HTTP route gives for the same body.
    const http = await exports.default.fetch("http://localhost/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "x", top_p: 2 }) });
    const { error } = (await http.json()) as { error: { message: string } };
    expect(details).toEqual({ status: 400, type: "invalid_request_error", param: "top_p", request_id: "caller-trace-1", message: error.message });
    expect(thrown.message.startsWith(`${error.message} [edge-gpt2 {`)).toBe(true);
  });

  it("the caller's request id is in the service's log line", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
    expect((await call("/generate", { prompt: "traced", max_new_tokens: 2 }, { "x-request-id": "caller-trace-2" })).status).toBe(200);
    await vi.waitFor(() => expect(logged.join("\n")).toMatch(/"request_id":"caller-trace-2","route":"rpc:generate"/));
  });

  it("generate() refuses stream: true and points to generateStream()", async () => {
    const response = await call("/generate", { prompt: "x", stream: true });
    const { thrown } = (await response.json()) as { thrown: { message: string } };
    expect(gpt2ErrorOf(new Error(thrown.message))).toMatchObject({ status: 400, param: "stream" });
  });
});

describe("gpt2ErrorOf", () => {
  const details = { status: 400, type: "invalid_request_error", param: 'a] [edge-gpt2 {"x', request_id: "r1", message: 'unknown field(s): "a] [edge-gpt2 {"' };

  it("reads back what the server encoded, whatever the text contains, with a transport's name prefix or not", () => {
    const message = encodeGpt2ErrorMessage(details);
    expect(gpt2ErrorOf(new Error(message))).toEqual(details);
    expect(gpt2ErrorOf(new Error(`ApiError: ${message}`))).toEqual(details);
    expect(gpt2ErrorOf(new Error(`Error: ${message}`))).toEqual(details);
  });

  it("reads own properties where the runtime kept them; null for other errors", () => {
    expect(gpt2ErrorOf(Object.assign(new Error("busy"), { status: 503, type: "overloaded", param: null }))).toEqual({ status: 503, type: "overloaded", param: null, request_id: null, message: "busy" });
    expect(gpt2ErrorOf(new Error("network connection lost"))).toBeNull();
    expect(gpt2ErrorOf(new Error("x [edge-gpt2 not json]"))).toBeNull();
    expect(gpt2ErrorOf("a string")).toBeNull();
  });
});
