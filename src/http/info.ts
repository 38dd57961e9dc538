// GET /v1/info: what this deployment serves — model id, revision, dtype, context window, limits and
// the server version — so clients can size requests without trial and error.
import type { Context } from "hono";
import packageJson from "../../package.json";
import type { AppEnv } from "../app-env";
import { describeLimits } from "../config";
import type { Engine } from "../engine/engine";

export const SERVER_VERSION: string = packageJson.version;

export async function handleInfo(c: Context<AppEnv>): Promise<Response> {
  const { config, model } = c.var;
  const engine = await model.engine();
  const { manifest, kvBudget: budget } = engine;
  return c.json({
    server: { name: packageJson.name, version: SERVER_VERSION },
    model: {
      id: manifest.name,
      source: config.model,
      // The converted weights' sha256: changes exactly when the served weights do.
      revision: manifest.source.weights_sha256,
      checkpoint: manifest.source.checkpoint,
      dtype: manifest.dtype,
      context_window: manifest.architecture.n_positions,
      vocab_size: manifest.architecture.vocab_size,
      n_layer: manifest.architecture.n_layer,
      n_head: manifest.architecture.n_head,
      n_embd: manifest.architecture.n_embd,
      files: manifest.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })),
    },
    limits: describeLimits(config.limits),
    // How the isolate's memory is shared out (null: no byte budget, ISOLATE_MEMORY_BYTES=0).
    memory: budget && {
      isolate_bytes: budget.isolateBytes,
      model_bytes: budget.modelBytes,
      js_reserve_bytes: budget.jsReserveBytes,
      kv_budget_bytes: budget.batchBytes,
      prefix_cache_bytes: budget.prefixCacheBytes,
      kv_bytes_per_token: budget.bytesPerPosition,
      tokens_in_flight: Math.floor(budget.batchBytes / budget.bytesPerPosition),
    },
    model_memory_bytes: engine.modelBytes,
    // A sharded model's shards (null: the whole model runs in this isolate).
    shards: engine.shards ? await describeShards(engine.shards) : null,
    auth: { api_key_required: config.apiKeys.length > 0 },
    endpoints: ["POST /v1/generate", "POST /v1/completions", "POST /v1/tokenize", "POST /v1/detokenize", "GET /v1/models", "GET /v1/info", "GET /health", "GET /openapi.json", "GET /client.js", "GET /"],
  });
}

/** Each shard as it reports itself now (its blocks, memory and rows held). */
async function describeShards(shards: NonNullable<Engine["shards"]>) {
  const { statuses, recoveries } = await shards();
  return {
    recoveries,
    list: statuses.map((s) => ({
      index: s.index,
      layers: s.layers,
      rows: s.rows,
      positions: s.positions,
      wasm_bytes: s.wasmBytes,
      kv_bytes: s.kvBytes,
      load_ms: s.loadMs,
      isolate: {
        instances: s.isolate.instances,
        rows: s.isolate.rows,
        kv_bytes: s.isolate.kvBytes,
        charged_bytes: s.isolate.chargedBytes,
        budget_bytes: s.isolate.budgetBytes,
        refusals: s.isolate.refusals,
      },
    })),
  };
}
