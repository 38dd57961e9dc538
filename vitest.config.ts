import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { MODEL_CACHE_DIR, serveModelFile } from "./test/support/model-files.ts";

// Two projects: fast unit tests in Node (pure logic, the converter), and the Worker inside workerd
// (the real runtime: ORT WASM, bindings, HTTP). globalSetup converts the reference checkpoints once.
export default defineConfig({
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/{sampling,generation,tokenizer,tools,http}/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Converted test models, served from disk the way a model host would serve them.
              serviceBindings: { TEST_MODELS: serveModelFile },
              bindings: { TEST_MODEL_CACHE: MODEL_CACHE_DIR },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
