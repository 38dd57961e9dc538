// Another Worker generates text through a service binding to the Gpt2Service entrypoint (RPC):
// test/worker/rpc-caller-worker.js runs as an auxiliary Worker (see vitest.config.ts) and the
// Worker under test serves its default model (as a deployment would).
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readEvents } from "./sse-helpers";

const caller = (env as unknown as { RPC_CALLER: Fetcher }).RPC_CALLER;
const call = (path: string, body: unknown) =>
  caller.fetch(`http://rpc-caller${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

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

  it("a bad request is thrown as an error naming status, type and field", async () => {
    const response = await call("/generate", { prompt: "x", top_p: 2 });
    expect(response.status).toBe(502);
    const { thrown } = (await response.json()) as { thrown: Record<string, unknown> };
    expect(thrown).toMatchObject({ name: "ApiError", status: 400, type: "invalid_request_error", param: "top_p" });
    expect(thrown.message).toBe("top_p must be a number in (0, 1]");
  });

  it("generate() refuses stream: true and points to generateStream()", async () => {
    const response = await call("/generate", { prompt: "x", stream: true });
    const { thrown } = (await response.json()) as { thrown: Record<string, unknown> };
    expect(thrown).toMatchObject({ status: 400, param: "stream" });
  });
});
