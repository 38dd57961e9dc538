// GET /health: 200 when the model is loaded and answers, 503 with the reason while it cannot load.
import type { Context } from "hono";
import { describeLimits, loadConfig } from "../config";
import { getModel } from "../session/registry";
import type { AppEnv } from "../app-env";

export async function handleHealth(c: Context<AppEnv>): Promise<Response> {
  const config = loadConfig(c.env);
  try {
    const model = await getModel(config.model, c.env as unknown as Record<string, unknown>);
    const arch = model.manifest.architecture;
    return c.json({
      status: "ok",
      model: { name: model.manifest.name, source: config.model, dtype: model.manifest.dtype, context_window: arch.n_positions, n_layer: arch.n_layer, n_embd: arch.n_embd, n_head: arch.n_head, load_ms: model.loadMs },
      limits: describeLimits(config.limits),
    });
  } catch (error) {
    c.header("Retry-After", "5");
    return c.json({ status: "unavailable", model: { source: config.model }, reason: error instanceof Error ? error.message : String(error) }, 503);
  }
}
