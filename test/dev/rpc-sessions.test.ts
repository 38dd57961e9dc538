// Workers RPC between two Workers in separate `wrangler dev` sessions (found through a private dev
// registry), as between two deployed Workers: only an error's name and message cross, so the
// status, type, field and request id must be readable from the message (rpc-client.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type DevServer } from "../browser/wrangler-dev";

let service: DevServer;
let caller: DevServer;
let registry: string;

beforeAll(async () => {
  registry = await mkdtemp(path.join(tmpdir(), "edge-gpt2-registry-"));
  const env = { WRANGLER_REGISTRY_PATH: registry };
  service = await startWranglerDev({ env });
  caller = await startWranglerDev({ env, config: path.resolve(import.meta.dirname, "rpc-caller/wrangler.toml") });
});

afterAll(async () => {
  await Promise.all([caller?.stop(), service?.stop()]);
  await rm(registry, { recursive: true, force: true });
});

const call = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${caller.url}/generate`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("Gpt2Service from a Worker in another wrangler dev session", () => {
  it("generate() answers with the /v1/generate body, logged under the caller's request id", async () => {
    const request = { prompt: "Once upon a time", max_new_tokens: 4 };
    const traced = { "x-request-id": "cross-session-ok" };
    let response = await call(request, traced);
    // The caller may be up a moment before the registry tells it where the service is.
    for (let i = 0; i < 20 && response.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      response = await call(request, traced);
    }
    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as { generations: { token_ids: number[] }[] };
    const http = (await (await fetch(`${service.url}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) })).json()) as typeof body;
    expect(body.generations).toEqual(http.generations);
    expect(service.output()).toMatch(/"request_id":"cross-session-ok","route":"rpc:generate"/);
  });

  it("a 400 arrives without own properties, and gpt2ErrorOf still reads status, type, field and request id", async () => {
    const response = await call({ prompt: "x", top_p: 2 }, { "x-request-id": "cross-session-1" });
    expect(response.status).toBe(502);
    const { thrown, details } = (await response.json()) as { thrown: { name: string; message: string; ownKeys: string[] }; details: Record<string, unknown> };
    const http = (await (await fetch(`${service.url}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "x", top_p: 2 }) })).json()) as { error: { message: string } };
    expect(details).toEqual({ status: 400, type: "invalid_request_error", param: "top_p", request_id: "cross-session-1", message: http.error.message });
    // What the platform keeps (seen with wrangler 4.164): name "Error", the message prefixed with
    // "ApiError: ", and only a `remote` property. If this starts to fail, own properties now cross.
    expect(thrown.ownKeys).not.toContain("status");
    expect(thrown.message).toContain(http.error.message);
  });
});
