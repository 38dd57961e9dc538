import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { MODEL_CACHE_DIR, serveModelFile } from "./test/support/model-files.ts";

// Four projects: fast unit tests in Node (pure logic: sampling, tokenizer, engine on a fake model,
// KV, plans, schemas; no model files — `npm run test:unit`), the converter and model tools in Node
// (they convert the reference checkpoints), the Worker inside workerd (the real runtime: ORT WASM,
// bindings, HTTP; its globalSetup converts the test models once), and the demo page in headless
// Chromium against `wrangler dev`.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/*.test.ts", "test/{sampling,engine,generation,tokenizer,http,shard}/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "tools",
          environment: "node",
          include: ["test/tools/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Converted test models, served from disk the way a model host would serve them.
              serviceBindings: { TEST_MODELS: serveModelFile, RPC_CALLER: "rpc-caller" },
              // ISOLATE_MEMORY_BYTES=0: a test isolate loads many models into one WASM heap that
              // never shrinks, which a deployed isolate never does; test/worker/info.test.ts sets
              // a budget of its own to test admission by bytes.
              bindings: { TEST_MODEL_CACHE: MODEL_CACHE_DIR, ISOLATE_MEMORY_BYTES: "0" },
              // A limiter small enough for test/worker/auth.test.ts to reach.
              ratelimits: { TEST_TIGHT_RATE_LIMITER: { namespace_id: "9001", simple: { limit: 2, period: 60 } } },
              // Another Worker calling this one's Gpt2Service entrypoint over a service binding
              // (the Worker under test runs under the pool's runner name).
              workers: [
                {
                  name: "rpc-caller",
                  modules: true,
                  scriptPath: "./test/worker/rpc-caller-worker.js",
                  compatibilityDate: "2026-11-01",
                  serviceBindings: { GPT2: { name: "vitest-plugin-runner-workers", entrypoint: "Gpt2Service" } },
                },
              ],
            },
          }),
        ],
        test: {
          name: "workers",
          globalSetup: ["./test/support/global-setup.ts"],
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        // Against `wrangler dev`: the demo page in headless Chromium (test/browser), and what only
        // workerd's own HTTP server shows, such as client disconnects (test/dev).
        test: {
          name: "browser",
          environment: "node",
          include: ["test/{browser,dev}/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
