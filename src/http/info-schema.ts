// What GET /v1/info returns (http/info.ts), as the OpenAPI document states it; test/worker/info.test.ts
// and test/worker/sharded.test.ts validate real responses against the document built from it.
import { z } from "zod";

const shardInfo = z.strictObject({
  index: z.int(),
  layers: z.tuple([z.int(), z.int()]).meta({ description: "Transformer blocks [from, to) this shard holds." }),
  rows: z.int().meta({ description: "Rows whose keys/values it holds now." }),
  positions: z.int(),
  wasm_bytes: z.int().meta({ description: "The shard isolate's WebAssembly memory (weights and runtime)." }),
  kv_bytes: z.int().meta({ description: "Keys/values it holds now." }),
  load_ms: z.number(),
  isolate: z.strictObject({
    instances: z.int().meta({ description: "Durable Object instances of this shard in the same isolate that hold rows now (each front isolate has its own; the platform may run several in one isolate)." }),
    rows: z.int(),
    kv_bytes: z.int().meta({ description: "Keys/values all of them hold now." }),
    charged_bytes: z.int().meta({ description: "What they are charged: every copy of a step, each row up to the positions it may reach." }),
    budget_bytes: z.int().nullable().meta({ description: "ISOLATE_MEMORY_BYTES less the isolate's WebAssembly memory at load and the JS reserve; null: no byte limit." }),
    refusals: z.int().meta({ description: "Steps refused since the isolate started because they would take it past its budget (the front waits for room)." }),
  }).meta({ description: "The shard's isolate as a whole, across every instance it runs." }),
});

export const infoResponse = z.strictObject({
  server: z.strictObject({ name: z.string(), version: z.string() }),
  model: z.strictObject({
    id: z.string(),
    source: z.string(),
    revision: z.string(),
    checkpoint: z.string(),
    dtype: z.enum(["int8", "fp32"]),
    context_window: z.int(),
    vocab_size: z.int(),
    n_layer: z.int(),
    n_head: z.int(),
    n_embd: z.int(),
    files: z.array(z.strictObject({ path: z.string(), bytes: z.int(), sha256: z.string() })),
  }),
  limits: z.record(z.string(), z.number()),
  memory: z.strictObject({
    isolate_bytes: z.int(),
    model_bytes: z.int(),
    js_reserve_bytes: z.int(),
    kv_budget_bytes: z.number(),
    prefix_cache_bytes: z.number(),
    kv_bytes_per_token: z.int(),
    tokens_in_flight: z.int(),
  }).nullable().meta({ description: "How the isolate's memory is shared out (null: no byte budget). A sharded model's: the shard that admits the fewest tokens." }),
  model_memory_bytes: z.int(),
  shards: z.strictObject({
    recoveries: z.int().meta({ description: "Steps that rebuilt rows a shard had lost (evicted, restarted, unreachable)." }),
    list: z.array(shardInfo),
  }).nullable().meta({ description: "A sharded model's shards (Durable Objects), as they report themselves now; null: the whole model runs in this isolate." }),
  auth: z.strictObject({ api_key_required: z.boolean() }),
  endpoints: z.array(z.string()),
});
