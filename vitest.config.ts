import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { MODEL_CACHE_DIR, serveModelFile } from "./test/support/model-files.ts";

// Three projects: fast unit tests in Node (pure logic, the converter), the Worker inside workerd
// (the real runtime: ORT WASM, bindings, HTTP), and the demo page in headless Chromium against
// `wrangler dev`. globalSetup converts the reference checkpoints once.
export default defineConfig({
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/{sampling,generation,tokenizer,tools,http,cache,engine}/**/*.test.ts"],
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
              bindings: { TEST_MODEL_CACHE: MODEL_CACHE_DIR },
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
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        // The demo page in headless Chromium against `wrangler dev` (test/browser/demo.test.ts).
        test: {
          name: "browser",
          environment: "node",
          include: ["test/browser/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
