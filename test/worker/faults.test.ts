// Broken model deployments: /health and generation answer 503 with the exact reason, bad input
// still gets its 400, and serving a good model again needs no restart.
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { envFor, postJson } from "./helpers";

// synthetic-int8 runs its MLPs in the kernel: its graphs are layer-00.onnx (block 0) and layer-01.onnx (ln_f).
const cases: [string, RegExp][] = [
  ["broken-missing", /broken-missing\/layer-00\.onnx\.data: HTTP 404/],
  ["broken-truncated", /layer-00\.onnx\.data is \d+ bytes, manifest says \d+ \(truncated or replaced\?\)/],
  ["broken-corrupt", /layer-00\.onnx\.data has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/],
  ["broken-manifest", /manifest\.json is not valid JSON/],
  // One more block than it has graphs for: refused before anything is loaded.
  ["broken-shape", /an mlp section needs n_layer \+ 1 = 3 graphs, 2 listed/],
  // Checked at load by a warm-up step at the last position of the window, not by a 500 per request.
  ["broken-heads", /does not match its manifest/],
  ["broken-window", /does not match its manifest/],
  // The LM-head kernel's table is streamed into its memory and checked on the way.
  ["broken-embedding", /embedding\.int8 has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/],
  // So are the blocks' MLP weights, into the MLP kernel's.
  ["broken-mlp", /mlp\.int8 has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/],
];

describe("a broken model answers 503 with the reason, then recovers", () => {
  it.each(cases)("%s", async (model, reason) => {
    const health = await app.request("/health", {}, envFor(model));
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; reason: string };
    expect(body.status).toBe("unavailable");
    expect(body.reason).toMatch(reason);

    const generation = await postJson("/v1/generate", { prompt: "x", max_new_tokens: 2 }, model);
    expect(generation.status).toBe(503);
    const error = ((await generation.json()) as { error: { type: string; message: string } }).error;
    expect(error.type).toBe("model_unavailable");
    expect(error.message).toMatch(reason);
    expect((await postJson("/v1/generate", { prompt: "x", top_p: 2 }, model)).status).toBe(400);

    // The same isolate serves a good model on the next request: the failed load was not kept.
    const recovered = await postJson("/v1/generate", { prompt: "x", max_new_tokens: 2 }, "synthetic-int8");
    expect(recovered.status).toBe(200);
    expect(((await recovered.json()) as { generations: unknown[] }).generations).toHaveLength(1);
  });
});
