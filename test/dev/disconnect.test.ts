// A client that drops a request stops its generation within one decode step — measured through
// `wrangler dev` (workerd's own HTTP server), where disconnects are real, not in the vitest pool.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type DevServer } from "../browser/wrangler-dev";

// Worst case the limits allow: eight sampled sequences of 512 new tokens each.
const WORST = { prompt: "Once upon a time", max_new_tokens: 512, min_new_tokens: 512, do_sample: true, num_return_sequences: 8, seed: 1, cache: false };

let dev: DevServer;
beforeAll(async () => {
  // No rate limit for this test's handful of requests from one IP.
  dev = await startWranglerDev();
}, 120_000);
afterAll(async () => dev?.stop());

/** Generation log lines the Worker printed so far. */
const generations = () =>
  dev.output().split("\n").filter((line) => line.includes('"event":"generation"')).map((line) => JSON.parse(line.slice(line.indexOf("{"))) as { finish_reasons: string[]; completion_tokens: number; total_ms: number });

async function dropAfter(ms: number, body: object): Promise<void> {
  const controller = new AbortController();
  const request = fetch(`${dev.url}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: controller.signal });
  setTimeout(() => controller.abort(), ms);
  await request.catch(() => undefined);
}

describe("a dropped client", () => {
  it("a non-streaming request stops within a step of the disconnect and frees the model", async () => {
    const before = generations().length;
    // How long the worst case takes when nobody leaves: the yardstick for "stopped early".
    const full = await fetch(`${dev.url}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...WORST, max_new_tokens: 64, min_new_tokens: 64 }) });
    const fullTiming = ((await full.json()) as { timings: { decode_ms: number; decode_steps: number } }).timings;
    const msPerStep = fullTiming.decode_ms / fullTiming.decode_steps;

    await dropAfter(500, WORST);
    // The Worker logs the generation when it ends: it must end long before 512 steps would.
    const deadline = Date.now() + 30_000;
    while (generations().length < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const dropped = generations()[before + 1];
    expect(dropped.finish_reasons).toEqual(Array(8).fill("cancelled"));
    expect(dropped.completion_tokens).toBeLessThan(8 * 512);
    // Stopped within a few steps of the disconnect (0.5 s after sending), not at the 512th token.
    expect(dropped.total_ms).toBeLessThan(500 + 20 * msPerStep + 2000);

    // The next request is not queued behind the dropped one.
    const next = await fetch(`${dev.url}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "x", max_new_tokens: 4, cache: false }) });
    const timings = ((await next.json()) as { timings: { queue_ms: number } }).timings;
    expect(timings.queue_ms).toBeLessThan(1000);
  });
});
