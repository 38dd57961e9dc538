// The environment of every `wrangler dev` a benchmark starts. Measured on GPT-2-124M in 2 shards
// (7 interleaved repetitions of 64 greedy tokens, four wrangler devs side by side): with wrangler's
// local observability on (its default), sharded decode ran at 0.81× the unsharded model's; with it
// off, 0.96×, the unsharded figure unchanged (35.9 vs 35.5 tokens/s). It adds tracing flags to
// every Worker and runs a collector Worker in the same workerd that turns each span — two Durable
// Object calls per token — into JavaScript work on the same cores (~5 ms a token). The platform
// runs no such collector beside an isolate, so the benches measure without it.

/** `wrangler dev`'s environment for a bench: no local tracing, no metrics, its own dev registry. */
export function benchDevEnv(registryPath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    X_LOCAL_OBSERVABILITY: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    // A dev registry of its own: wrangler dev reloads (cutting requests in flight) when the shared
    // one changes, e.g. when another wrangler dev on this machine registers Workers of the same names.
    WRANGLER_REGISTRY_PATH: registryPath,
  };
}
