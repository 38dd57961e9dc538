// The engine of a sharded model (issue 14): the front isolate holds only the tokenizer's side of
// the model — the int8 embedding / LM head in its kernel — and the scheduler; the transformer
// blocks and their keys/values live in the shards (Durable Objects, each an isolate of its own,
// reached through ShardConnector). Keys/values are admitted by the most constrained shard: each
// shard's isolate holds its blocks' weights plus its blocks' keys/values of every row in flight.
// No prefix cache: its entries would be rows held by the shards, kept alive by the front.
import type { ManifestShard, ModelManifest } from "../model/manifest";
import type { ModelFiles } from "../model/source";
import type { Engine, EngineLimits } from "./engine";
import { loadEmbedding } from "./head";
import { shardedKvBudget } from "./kv-budget";
import { kvLayoutFor } from "./kv-layout";
import { BatchScheduler } from "./scheduler";
import { ShardedModel, ShardUnavailableError, type ShardConnector } from "./sharded-forward";
import type { ShardStatus } from "./shard-protocol";

export interface ShardedEngineOptions {
  /** Tries per step, the bound on one shard call, positions per step (see ShardedOptions); defaults there. */
  attempts?: number;
  callTimeoutMs?: number;
  backoffMs?: number;
  maxStepPositions?: number;
}

export async function loadShardedEngine(files: ModelFiles, manifest: ModelManifest, limits: EngineLimits, connect: ShardConnector, options: ShardedEngineOptions): Promise<Engine> {
  const started = Date.now();
  const shards = manifest.shards ?? [];
  const entry = manifest.files.find((f) => f.role === "embedding");
  if (shards.length === 0 || !entry) throw new Error(`${files.location}: not a sharded model's front (no shards, or no embedding file)`);
  const kernel = await loadEmbedding(files, entry, manifest);
  const model = new ShardedModel({ ...options, count: shards.length, connect, head: kernel });
  // Every shard loads its blocks on its first call; a shard that holds other blocks than the front
  // expects (another conversion's) fails here, at load, with the reason.
  const statuses = await model.status().catch((error: unknown) => {
    throw new Error(`${files.location}: the model's shards do not answer: ${error instanceof Error ? error.message : String(error)}`);
  });
  checkShards(shards, statuses, files.location);
  await warmUp(model, manifest, files.location);
  const loaded = await model.status(); // after the warm-up step: what each shard takes, measured
  // Each shard's own budget bounds what this front admits (a shard configured with less memory than
  // the front would otherwise refuse, and the request wait out its time budget).
  const memory = shards.map((shard, i) => ({ layers: shard.layers, modelBytes: loaded[i].wasmBytes || shard.bytes, budgetBytes: loaded[i].isolate?.budgetBytes }));
  const budget = shardedKvBudget(manifest, memory, { isolateBytes: limits.isolateMemoryBytes, jsReserveBytes: limits.jsReserveBytes });
  // Padding is the shards' business (each row's keys/values are its own there); the front's cache
  // only grows by each step's new positions, as in the right-padded-append layout.
  const layout = kvLayoutFor({ ...manifest, io: { ...manifest.io, kv_padding: "right" } });
  const scheduler = new BatchScheduler(model.forward, layout, { ...limits, budget }, { prefixCache: null, rowsLeft: model.rowsLeft });
  return {
    manifest,
    kvBudget: budget,
    modelBytes: kernel.memoryBytes,
    loadMs: Date.now() - started,
    submit: (job) => scheduler.submit(job),
    activity: () => scheduler.activity,
    shards: async () => {
      const statuses = await model.status().catch((error: unknown) => {
        throw new ShardUnavailableError(`a shard does not answer: ${error instanceof Error ? error.message : String(error)}`);
      });
      return { statuses, recoveries: model.recoveries };
    },
    release: async () => {
      await scheduler.idle();
      await model.flush().catch(() => undefined); // shards that are gone hold nothing to forget
    },
  };
}

function checkShards(expected: readonly ManifestShard[], statuses: readonly ShardStatus[], location: string): void {
  statuses.forEach((status, i) => {
    const [from, to] = expected[i].layers;
    if (status.index !== i || status.layers[0] !== from || status.layers[1] !== to) {
      throw new Error(`${location}: shard ${i} holds blocks [${status.layers.join(", ")}) as shard ${status.index}; the front's manifest says blocks [${from}, ${to}) (shards deployed from another conversion?)`);
    }
  });
}

/** One token through every shard, checked, then forgotten: the pipeline works before requests come. */
async function warmUp(model: ShardedModel, manifest: ModelManifest, location: string): Promise<void> {
  const { logits, kv } = await model.forward({
    batch: 1, seq: 1, inputIds: [manifest.tokenizer.eos_token_id], attentionMask: [1], positionIds: [0], past: null,
  });
  const ok = logits[0]?.length === manifest.architecture.vocab_size && logits[0].every((x) => Number.isFinite(x));
  model.rowsLeft(kv.rows!.map((row) => row.id));
  await model.flush();
  if (!ok) throw new Error(`${location}: the sharded warm-up step gave ${logits[0]?.length} logits (vocab_size ${manifest.architecture.vocab_size}), or non-finite ones`);
}
