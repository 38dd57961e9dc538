// Shard Workers in workerd (issue 14): a sharded model in local R2, two shard Worker scripts and a
// caller standing in for the front in one `wrangler dev` (as `npm run dev:sharded` runs them), the
// Durable Objects reached over RPC through SHARD_<i> bindings. Their numbers are the shard runtime's
// in Node bit for bit; a killed shard comes back empty and says ShardStateLost for its rows; two
// instances of one shard (two front isolates' names) run in one isolate and share its ledger.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShardRow, ShardStatus } from "../../src/engine/shard-protocol";
import type { ShardCore } from "../../src/shard/core";
import { convertCheckpoint } from "../../tools/convert/index";
import { writeShardedConfigs } from "../../tools/sharded/config";
import { writeSyntheticCheckpoint } from "../../tools/synth/index";
import { uploadModel } from "../../tools/upload";
import { startWranglerDev, type DevServer } from "../browser/wrangler-dev";
import { compareBits } from "../tools/reference";
import { openCores, pipeline, positionsOf } from "../tools/shard-models";

const CACHE = path.resolve(import.meta.dirname, "../../.cache/test-dev");
const modelDir = path.join(CACHE, "synthetic-l3-sharded");
const E = 64;
let work: string;
let dev: DevServer;
let reference: ShardCore[];

beforeAll(async () => {
  await writeSyntheticCheckpoint({ layers: 3, embd: E, heads: 4, seed: 21, positions: 128, vocab: 1000, outDir: path.join(CACHE, "synthetic-l3") });
  // MLPs in the graphs: the reference below is the shard runtime in Node, which has no CompiledWasm
  // import for the MLP kernel (shards with their MLPs in the kernel: test/dev/sharded-front.test.ts,
  // test/worker/sharded.test.ts).
  await convertCheckpoint(path.join(CACHE, "synthetic-l3"), { dtype: "int8", outDir: modelDir, shards: { count: 2 }, mlp: "graph" });
  work = await mkdtemp(path.join(tmpdir(), "edge-gpt2-shards-"));
  const persistTo = path.join(work, "state");
  const prefix = await uploadModel({ modelDir, prefix: "models/synthetic-l3", persistTo, log: () => {} });
  const configs = await writeShardedConfigs({
    shards: 2, prefix, outDir: path.join(work, "configs"), faults: true, frontConfig: path.resolve(import.meta.dirname, "../../tools/sharded/caller/wrangler.toml"),
  });
  dev = await startWranglerDev({ configs, persistTo, readyPath: "/health" });
  reference = (await openCores(modelDir)).cores;
}, 180_000);

afterAll(async () => {
  await dev?.stop();
  await rm(work, { recursive: true, force: true });
});

async function call<T>(action: string, index: number, body?: unknown, instance = "shard"): Promise<T> {
  const response = await fetch(`${dev.url}/${action}/${index}?instance=${instance}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  const json = (await response.json()) as T & { message?: string };
  if (!response.ok) throw Object.assign(new Error(json.message), json);
  return json;
}

/** A step through both shards over RPC (hidden states as JSON numbers), and the same in Node. */
async function step(rows: ShardRow[], seq: number, seed: number): Promise<{ remote: Float32Array; local: Float32Array }> {
  const hidden = Float32Array.from({ length: rows.length * seq * E }, (_, i) => Math.sin(seed * 7919 + i) * 0.5);
  const request = { rows, seq, positionIds: positionsOf(rows.map((r) => r.past), seq), release: [] };
  let remote = hidden;
  for (const index of [0, 1]) {
    remote = Float32Array.from((await call<{ hidden: number[] }>("step", index, { ...request, hidden: Array.from(remote), lastOnly: index === 1 })).hidden);
  }
  const local = (await pipeline(reference, { ...request, hidden }, true)).hidden;
  return { remote, local };
}

describe("shard Workers in wrangler dev", () => {
  it("load their blocks from R2 and compute a batch's steps exactly as the shard runtime does in Node", async () => {
    expect(await call<ShardStatus>("status", 1)).toMatchObject({ index: 1, layers: [1, 3], rows: 0 });
    let { remote, local } = await step([{ id: "a", past: 0 }, { id: "b", past: 0 }], 4, 1);
    expect(remote.length).toBe(2 * E); // lastOnly: each row's last position
    expect(compareBits(remote, local)).toBe("equal");
    for (let n = 0; n < 3; n++) {
      ({ remote, local } = await step([{ id: "a", past: 4 + n }, { id: "b", past: 4 + n }], 1, 2 + n));
      expect(compareBits(remote, local), `decode step ${n}`).toBe("equal");
    }
    ({ remote, local } = await step([{ id: "b", past: 7 }, { id: "c", past: 7, copyOf: "a" }], 1, 9));
    expect(compareBits(remote, local)).toBe("equal");
    const status = await call<ShardStatus>("status", 0);
    expect(status).toMatchObject({ index: 0, layers: [0, 1], rows: 3, positions: 8 + 8 + 7 });
    expect(status.wasmBytes).toBeGreaterThan(0);
    await call("release", 0, { ids: ["a", "b", "c"] });
    expect(await call<ShardStatus>("status", 0)).toMatchObject({ rows: 0, positions: 0, kvBytes: 0 });
  });

  it("a shard killed mid-generation comes back holding no rows: ShardStateLost, then a re-prefill works", async () => {
    await step([{ id: "p", past: 0 }, { id: "q", past: 0 }], 3, 30);
    await call("fault", 1, { afterSteps: 2 }); // shard 1 dies at its second step from now
    await step([{ id: "p", past: 3 }, { id: "q", past: 3 }], 1, 31);
    const killed = await step([{ id: "p", past: 4 }, { id: "q", past: 4 }], 1, 32).catch((e: Error & { lost?: boolean }) => e);
    expect(killed).toBeInstanceOf(Error);
    expect((killed as { lost?: boolean }).lost).toBe(false); // the step in flight fails as any failure would
    const retried = await step([{ id: "p", past: 4 }, { id: "q", past: 4 }], 1, 32).catch((e: Error & { lost?: boolean }) => e);
    expect((retried as { lost?: boolean }).lost).toBe(true);
    expect((retried as Error).message).toMatch(/^ShardStateLost: shard holds no keys\/values for row\(s\) p, q/);
    expect(await call<ShardStatus>("status", 0)).toMatchObject({ rows: 2, positions: 10 }); // shard 0 kept its rows (one step ahead)
    // The front re-prefills the rows from their tokens, from the start, in every shard.
    await call("release", 0, { ids: ["p", "q"] });
    reference.forEach((core) => core.release(["p", "q"]));
    const { remote, local } = await step([{ id: "p", past: 0 }, { id: "q", past: 0 }], 5, 33);
    expect(compareBits(remote, local)).toBe("equal");
    expect(await call<ShardStatus>("status", 1)).toMatchObject({ rows: 2, positions: 10 });
  });

  it("an instance that holds rows stays in memory while no call comes (workerd evicts an idle one after 10 s)", { timeout: 60_000 }, async () => {
    const before = (await call<ShardStatus>("status", 0)).rows;
    await step([{ id: "idle", past: 0 }], 3, 40);
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    // An evicted instance would come back empty: this step would meet ShardStateLost.
    const { remote, local } = await step([{ id: "idle", past: 3 }], 1, 41);
    expect(compareBits(remote, local)).toBe("equal");
    for (const index of [0, 1]) await call("release", index, { ids: ["idle"] });
    reference.forEach((core) => core.release(["idle"]));
    expect(await call<ShardStatus>("status", 0)).toMatchObject({ rows: before });
  });

  it("instances of one shard class under other names run in the same isolate: its ledger counts them all", async () => {
    const hidden = Array.from({ length: 3 * E }, (_, i) => Math.sin(i) * 0.5);
    const request = { rows: [{ id: "o", past: 0, reach: 20 }], seq: 3, hidden, positionIds: [0, 1, 2], release: [], lastOnly: false };
    await call("step", 0, request, "other-front");
    const mine = await call<ShardStatus>("status", 0);
    const other = await call<ShardStatus>("status", 0, undefined, "other-front");
    expect(other.rows).toBe(1);
    // One module state for both Durable Object instances: the production case the ledger is for.
    expect(mine.isolate).toEqual(other.isolate);
    expect(mine.isolate).toMatchObject({ instances: 2, rows: mine.rows + other.rows, kvBytes: mine.kvBytes + other.kvBytes });
    expect(mine.isolate.budgetBytes).toBeGreaterThan(0); // ISOLATE_MEMORY_BYTES from the front's config
    await call("release", 0, { ids: ["o"] }, "other-front");
    expect((await call<ShardStatus>("status", 0)).isolate).toMatchObject({ instances: 1, rows: mine.rows });
  });
});
