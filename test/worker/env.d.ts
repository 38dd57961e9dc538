// Bindings the vitest config adds for tests only (see vitest.config.ts).
declare namespace Cloudflare {
  interface Env {
    TEST_MODELS: Fetcher;
    TEST_MODEL_CACHE: string;
  }
}
