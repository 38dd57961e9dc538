// Hono's environment for this Worker: bindings come from `wrangler types` (worker-configuration.d.ts).
export type AppEnv = { Bindings: Env };
