// The shard Worker (issue 14): its own script, so its own isolate (Durable Object instances of one
// class may share an isolate; separate scripts never do). Its Durable Object holds a contiguous
// range of transformer blocks and those blocks' keys/values for every row in flight, and answers
// the front over Durable Object RPC (ShardApi, src/engine/shard-protocol.ts).
//
// Wiring (tools/sharded/config.ts writes it per model):
//   shard script "edge-gpt2-shard-<i>"  main = src/shard/index.ts, class GptShard,
//     vars MODEL = "r2:<prefix>" (the front's), SHARD_INDEX = "<i>", ISOLATE_MEMORY_BYTES (the
//     front's, if it sets one); R2 binding MODEL_BUCKET (the front's bucket); SHARD_FAULTS = "1"
//     only in tests/dev (enables fault()).
//   front Worker: one Durable Object binding per shard, SHARD_0 … SHARD_{N-1}, each
//     { class_name = "GptShard", script_name = "edge-gpt2-shard-<i>" }; the front reads N and each
//     shard's block range from its manifest's `shards` list and calls
//     env[`SHARD_${i}`].get(env[`SHARD_${i}`].idFromName(<name>)).step(…).
// Row ids must be unique across every front isolate that reaches the same shard instance.
import { DurableObject } from "cloudflare:workers";
import { JS_RESERVE_BYTES, loadConfig } from "../config";
import type { ShardApi, ShardStatus, ShardStepRequest, ShardStepResult } from "../engine/shard-protocol";
import type { ShardCore } from "./core";
import { openShardCore } from "./load";
import { STALE_MS } from "./memory";

/** How often an instance that holds rows re-checks that it still should stay in memory. */
const KEEP_ALIVE_MS = 5_000;

/** The shard script's bindings (its config is generated per model: tools/sharded/config.ts). */
export interface ShardEnv {
  /** The front's model, e.g. "r2:gpt2-int8": the shard reads its front manifest there. */
  MODEL: string;
  SHARD_INDEX: string;
  /** The isolate's memory, as the front's var (default 128 MiB; 0: no byte limit): keys/values of
   * every instance in the isolate are refused past what it leaves (memory.ts). */
  ISOLATE_MEMORY_BYTES?: string;
  MODEL_BUCKET?: R2Bucket;
  /** "1": fault() may kill the instance (tests, dev); anything else refuses it. */
  SHARD_FAULTS?: string;
}

export class GptShard extends DurableObject<ShardEnv> implements ShardApi {
  private loading: Promise<ShardCore> | null = null;
  /** Steps left before an armed fault() kills the instance (null: none armed). */
  private faultIn: number | null = null;
  /** Pending while this instance holds rows (see keepWhileHolding). */
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private lastCallAt = 0;

  async step(request: ShardStepRequest): Promise<ShardStepResult> {
    const core = await this.core();
    if (this.faultIn !== null && this.faultIn-- <= 0) this.die();
    try {
      return await core.step(request);
    } finally {
      this.keepWhileHolding(core);
    }
  }

  async release(ids: string[]): Promise<void> {
    // A shard that has not loaded holds no rows: nothing to forget, and no reason to load.
    const core = await this.loading?.catch(() => null);
    await core?.release(ids);
    if (core) this.keepWhileHolding(core);
  }

  async status(): Promise<ShardStatus> {
    return (await this.core()).status();
  }

  /**
   * Tests and dev only (SHARD_FAULTS=1): kill this instance now, or at its `afterSteps`-th step
   * from now, as an eviction or a crash would; its next call meets a fresh instance that holds no rows.
   */
  async fault(afterSteps = 0): Promise<void> {
    if (this.env.SHARD_FAULTS !== "1") throw new Error("fault injection is off for this shard (set SHARD_FAULTS = \"1\" in tests and dev)");
    if (!(Number.isInteger(afterSteps) && afterSteps >= 0)) throw new Error("fault(afterSteps): a non-negative integer");
    if (afterSteps === 0) this.die();
    this.faultIn = afterSteps - 1;
  }

  /**
   * The rows' keys/values live in this instance's memory only, so the instance must not be evicted
   * while it holds them. An idle Durable Object with nothing pending may be evicted after ~10 s
   * (hibernation), and workerd does so even between the steps of one long request: a prompt
   * prefilled for more than 10 s lost every shard's rows as its response went out (measured, GPT-2
   * in 4 shards, 640 tokens and up), and the front rebuilt them from scratch. A pending timer makes
   * the instance not hibernatable; it lapses once the instance holds nothing, or has had no call for
   * STALE_MS (its front went away: the isolate's ledger gives such rows up too, memory.ts).
   */
  private keepWhileHolding(core: ShardCore): void {
    this.lastCallAt = Date.now();
    if (this.keepAlive !== null || core.rowsHeld === 0) return;
    this.keepAlive = setInterval(() => {
      if (core.rowsHeld > 0 && Date.now() - this.lastCallAt < STALE_MS) return;
      clearInterval(this.keepAlive!);
      this.keepAlive = null;
    }, KEEP_ALIVE_MS);
  }

  private die(): never {
    this.ctx.abort("fault injection (SHARD_FAULTS=1)");
    throw new Error("fault injection: the shard instance was aborted");
  }

  /** This instance's rows on the isolate's graph (load.ts); a failed load is dropped so the next call retries. */
  private core(): Promise<ShardCore> {
    this.loading ??= (async () => {
      const index = Number(this.env.SHARD_INDEX);
      if (!this.env.MODEL || !Number.isInteger(index) || index < 0) {
        throw new Error(`shard Worker misconfigured: MODEL=${JSON.stringify(this.env.MODEL)} SHARD_INDEX=${JSON.stringify(this.env.SHARD_INDEX)} (set both in its wrangler config: npm run dev:sharded writes them)`);
      }
      const isolateBytes = loadConfig({ MODEL: this.env.MODEL, ISOLATE_MEMORY_BYTES: this.env.ISOLATE_MEMORY_BYTES }).limits.isolateMemoryBytes;
      const identity = { instance: this.ctx.id.toString(), isolateBytes, jsReserveBytes: JS_RESERVE_BYTES };
      return openShardCore(this.env.MODEL, index, (name) => (this.env as unknown as Record<string, unknown>)[name], identity);
    })();
    this.loading.catch(() => (this.loading = null));
    return this.loading;
  }
}

export default {
  fetch: () =>
    Response.json({ error: "a GPT-2 shard answers its Durable Object's RPC only (the front Worker calls it); there is no HTTP API here" }, { status: 404 }),
} satisfies ExportedHandler<ShardEnv>;
