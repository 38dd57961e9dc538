// GET /health: 200 when the model is loaded and answers, 503 with the reason while it cannot load
// (and when the next load attempt is: failed loads back off).
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { describeLimits } from "../config";
import { ModelUnavailableError } from "../engine/registry";

export async function handleHealth(c: Context<AppEnv>): Promise<Response> {
  const { config, model } = c.var;
  try {
    const engine = await model.engine();
    const arch = engine.manifest.architecture;
    return c.json({
      status: "ok",
      model: { name: engine.manifest.name, source: config.model, dtype: engine.manifest.dtype, context_window: arch.n_positions, n_layer: arch.n_layer, n_embd: arch.n_embd, n_head: arch.n_head, load_ms: engine.loadMs },
      load: engine.activity(),
      limits: describeLimits(config.limits),
    });
  } catch (error) {
    const retryAt = error instanceof ModelUnavailableError ? error.retryAt : Date.now();
    const retryInMs = Math.max(0, retryAt - Date.now());
    c.header("Retry-After", String(Math.max(1, Math.ceil(retryInMs / 1000))));
    return c.json({
      status: "unavailable",
      model: { source: config.model },
      reason: error instanceof Error ? error.message : String(error),
      next_attempt: { at: new Date(retryAt).toISOString(), in_ms: retryInMs },
    }, 503);
  }
}
