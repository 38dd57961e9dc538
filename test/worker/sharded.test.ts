// A sharded model (issue 14) served by the front engine, its shards in real onnxruntime sessions
// behind the real shard runtime (shard-fleet.ts): the same token ids as the unsharded conversion of
// the same checkpoint for greedy, seeded and batched requests; a shard killed or evicted in the
// middle of a generation changes nothing but the time taken; a shard that stays down fails the
// request with a 503-class error in bounded time, and no row is left behind.
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Engine, EngineLimits } from "../../src/engine/engine";
import { JS_RESERVE_BYTES } from "../../src/config";
import { kvBytesFor, kvBytesPerPosition } from "../../src/engine/kv-budget";
import { SchedulerBusyError, type GenerationJob } from "../../src/engine/scheduler";
import { loadShardedEngine } from "../../src/engine/sharded-engine";
import { ShardUnavailableError } from "../../src/engine/sharded-forward";
import { modelFiles } from "../../src/model/source";
import app from "../../src/index";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { env } from "cloudflare:workers";
import { engineFor, envFor } from "./helpers";
import { openShards, ShardFleet } from "./shard-fleet";

const EOS = 50256;
const LIMITS: EngineLimits = { maxBatchRows: 8, maxWaiting: 16, prefixCacheBytes: 0, isolateMemoryBytes: 0, jsReserveBytes: 0 };
const SAMPLED = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 40, temperature: 1.3 };

function job(promptIds: number[], overrides: Partial<GenerationJob> = {}): GenerationJob {
  return {
    promptIds, maxNewTokens: 12, numSequences: 1, sampling: { ...SAMPLING_DEFAULTS }, seed: 7, stop: [], eosTokenId: EOS,
    budget: { deadline: null, now: Date.now }, ...overrides,
  };
}

/** Greedy, seeded sampling with forks, and two more requests arriving while the first ones decode. */
const MIX = (): GenerationJob[] => [
  job([464, 2068, 7586, 21831, 18045], { maxNewTokens: 16 }),
  job([40, 41, 42, 43, 44, 45, 46], { sampling: SAMPLED, seed: 5, numSequences: 3, maxNewTokens: 10 }),
  job([7], { maxNewTokens: 14 }),
  job([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12], { sampling: SAMPLED, seed: 11, maxNewTokens: 9 }),
];

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Submits jobs one after another (each arrives a couple of steps into the last); their token ids. */
async function run(engine: Engine, jobs: GenerationJob[]): Promise<number[][][]> {
  const pending = [];
  for (const spec of jobs) {
    pending.push(engine.submit(spec));
    await tick();
    await tick();
  }
  return (await Promise.all(pending)).map((result) => result.sequences.map((s) => s.tokenIds));
}

async function sharded(model: string, options: { attempts?: number; callTimeoutMs?: number } = {}) {
  // Prompts (and rows rebuilt from their tokens) go in steps of at most 5 positions: a row's
  // numbers must not depend on how its prompt is split.
  const { front, shards } = await openShards(model);
  const fleet = new ShardFleet(shards);
  const files = modelFiles(`fetcher:TEST_MODELS/${model}`, (name) => Reflect.get(env, name));
  const engine = await loadShardedEngine(files, front, LIMITS, fleet.connect, { backoffMs: 1, maxStepPositions: 5, ...options });
  return { fleet, engine };
}

/** Every shard forgot every row (releases after the last request are sent without waiting). */
async function expectNothingHeld(fleet: ShardFleet): Promise<void> {
  for (let i = 0; i < 50 && (await fleet.status()).some((s) => s.rows > 0); i++) await tick();
  expect((await fleet.status()).map((s) => s.rows)).toEqual((await fleet.status()).map(() => 0));
}

const unsharded = new Map<string, number[][][]>();
async function expected(model: string, jobs: () => GenerationJob[]): Promise<number[][][]> {
  const key = `${model}|${jobs.name}`;
  if (!unsharded.has(key)) unsharded.set(key, await run(await engineFor(model), jobs()));
  return unsharded.get(key)!;
}

describe.each([
  { model: "tiny-a-int8", shards: 2 },
  { model: "synthetic-l4-int8", shards: 3 },
])("$model in $shards shards", ({ model }) => {
  const shardedModel = `${model}-sharded`;
  let engine: Engine | null = null;
  afterEach(async () => {
    await engine?.release();
    engine = null;
  });

  it("greedy, seeded and batched requests give the unsharded model's token ids", async () => {
    const want = await expected(model, MIX);
    const made = await sharded(shardedModel);
    engine = made.engine;
    expect(await run(engine, MIX())).toEqual(want);
    expect(want.flat().some((ids) => new Set(ids).size > 2)).toBe(true); // decodings that move
    const { statuses, recoveries } = await engine.shards!();
    expect(statuses.map((s) => s.index)).toEqual(statuses.map((_, i) => i));
    expect(recoveries).toBe(0);
    await expectNothingHeld(made.fleet);
  });

  it.each(["kill", "evict"] as const)("a shard %sed mid-generation: the same token ids, rebuilt from the rows' tokens", async (how) => {
    const want = await expected(model, MIX);
    const made = await sharded(shardedModel);
    engine = made.engine;
    const last = made.fleet.lost.length - 1;
    let tokens = 0;
    const jobs = MIX().map((spec) => ({
      ...spec,
      listener: {
        token: () => {
          tokens++;
          // The last shard once a few requests decode together, the first one later on.
          if (tokens === 12) made.fleet[how](last);
          if (tokens === 30) made.fleet[how](0);
        },
        finish: () => undefined,
      },
    }));
    expect(await run(engine, jobs)).toEqual(want);
    expect((await engine.shards!()).recoveries).toBeGreaterThanOrEqual(2);
    if (how === "kill") expect(made.fleet.lost[last]).toBe(1); // a call really failed under the front
    await expectNothingHeld(made.fleet);
  });

  it.each(["fail", "hang"] as const)("a shard that stays down (calls %s): a clear 503-class error in bounded time, nothing left behind", async (how) => {
    const made = await sharded(shardedModel, { attempts: 3, callTimeoutMs: 300 });
    engine = made.engine;
    let tokens = 0;
    const spec = job([464, 2068, 7586], { maxNewTokens: 30, listener: { token: () => ++tokens === 4 && made.fleet.setDown(1, how), finish: () => undefined } });
    const started = Date.now();
    const error = await engine.submit(spec).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ShardUnavailableError);
    expect((error as Error).message).toMatch(/shard 1/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(engine.activity()).toEqual({ rows: 0, waiting: 0 });
    made.fleet.setDown(1, null); // back: the next request runs, and the failed one's rows are gone
    const again = await engine.submit(job([464, 2068, 7586], { maxNewTokens: 5 }));
    expect(again.sequences[0].tokenIds).toHaveLength(5);
    await expectNothingHeld(made.fleet);
  });
});

describe("served over HTTP with Durable Object bindings", () => {
  it("answers /v1/generate with the unsharded token ids and reports its shards in /v1/info", async () => {
    const { shards } = await openShards("tiny-a-int8-sharded");
    const fleet = new ShardFleet(shards);
    const shardedEnv = { ...envFor("tiny-a-int8-sharded"), SHARD_0: fleet.binding(0), SHARD_1: fleet.binding(1) } as unknown as Env;
    const body = JSON.stringify({ prompt: "The quick brown fox", max_new_tokens: 12, cache: false });
    const post = (workerEnv: Env) => app.request("/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body }, workerEnv);
    const plain = (await (await post(envFor("tiny-a-int8"))).json()) as { generations: { token_ids: number[] }[] };
    const response = await post(shardedEnv);
    expect(response.status).toBe(200);
    const got = (await response.json()) as { generations: { token_ids: number[] }[] };
    expect(got.generations[0].token_ids).toEqual(plain.generations[0].token_ids);
    const info = (await (await app.request("/v1/info", {}, shardedEnv)).json()) as { shards: { list: { index: number; layers: number[] }[] } };
    expect(info.shards.list.map((s) => [s.index, ...s.layers])).toEqual([[0, 0, 1], [1, 1, 2]]);
    const schemas = ((await (await app.request("/openapi.json", {}, shardedEnv)).json()) as { components: { schemas: Record<string, any> } }).components.schemas;
    const checked = z.fromJSONSchema(schemas.InfoResponse).safeParse(info);
    expect(checked.success, JSON.stringify(checked.error?.issues)).toBe(true);
  });

  it("without the bindings, a 503 that says which binding to configure", async () => {
    // (another spelling of the folder: another model to the registry, not the engine loaded above)
    const response = await app.request("/v1/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "x", max_new_tokens: 2 }) }, envFor("fetcher:TEST_MODELS/tiny-a-int8-sharded/"));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/SHARD_0/);
  });
});

describe("two front isolates whose instances share one shard isolate", () => {
  // Each front budgets the shard isolate as its own (no front budget here at all); the shard counts
  // every instance's keys/values in its isolate's ledger and refuses what would not fit. (In this
  // test isolate both shards' instances count in the one ledger; each shard script has an isolate
  // of its own in production: the budget below allows for that.)
  const model = "tiny-a-int8";
  const A = () => [job([464, 2068, 7586, 21831, 18045], { sampling: SAMPLED, seed: 5, numSequences: 2, maxNewTokens: 12 })];
  const B = () => [job([40, 41, 42, 43], { maxNewTokens: 10 })];
  const engines: Engine[] = [];
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.release();
  });

  /**
   * Two fronts on the same shards, the isolate's budget: A's rows alone, or B's, but not both. B's
   * prefill passes shard 0 and is refused by shard 1 (both count in this isolate's one ledger): the
   * row shard 0 took must be given back.
   */
  async function twoFronts() {
    const { front, shards } = await openShards(`${model}-sharded`);
    const charge = (spec: GenerationJob) => shards.reduce((sum, { manifest }) => {
      const [from, to] = manifest.shard!.layers;
      return sum + kvBytesFor(kvBytesPerPosition(manifest.architecture.n_embd, to - from), spec.numSequences, spec.promptIds.length + spec.maxNewTokens);
    }, 0);
    const [a, b] = [A()[0], B()[0]];
    const perShardOfB = charge(b) / shards.length; // (tiny-a: one block per shard)
    expect(charge(a)).toBeGreaterThan(charge(b));
    const isolateMemoryBytes = JS_RESERVE_BYTES + charge(a) + Math.floor(1.5 * perShardOfB);
    const files = modelFiles(`fetcher:TEST_MODELS/${model}-sharded`, (name) => Reflect.get(env, name));
    const fronts = [];
    for (const name of ["front-a", "front-b"]) {
      const fleet = new ShardFleet(shards, { instance: name, isolateMemoryBytes });
      const engine = await loadShardedEngine(files, front, LIMITS, fleet.connect, { backoffMs: 1, maxStepPositions: 5 });
      engines.push(engine);
      fronts.push({ fleet, engine });
    }
    return { a: fronts[0], b: fronts[1], budget: isolateMemoryBytes - JS_RESERVE_BYTES, charge };
  }

  it("the second front's request waits, then gets 503 overloaded; the first's ids are the unsharded ones; nothing is left in the shards", async () => {
    const want = await expected(model, A);
    const { a, b, budget, charge } = await twoFronts();
    const gate: { release?: () => void } = {};
    // A stalls (its calls wait) once its rows are in the shards: they hold their reservation.
    const first = a.engine.submit({ ...A()[0], listener: { token: () => void (gate.release ??= a.fleet.hold()), finish: () => undefined } });
    while (!gate.release) await tick();
    const status = (await b.fleet.status())[0].isolate;
    expect(status).toMatchObject({ instances: 2, rows: 2, chargedBytes: charge(A()[0]), budgetBytes: budget });
    const deadline = Date.now() + 400;
    const refused = await b.engine.submit({ ...B()[0], budget: { deadline, now: Date.now } }).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SchedulerBusyError);
    expect((refused as SchedulerBusyError).message).toMatch(/waited \d+ ms for room for its keys\/values \(.*shard 1: ShardOverloaded: .*other instance\(s\) in the shard's isolate/);
    expect((refused as SchedulerBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline); // it waited its whole budget, not refused at once
    expect((await b.fleet.status())[0].isolate.refusals).toBeGreaterThan(0);
    expect(b.engine.activity()).toEqual({ rows: 0, waiting: 0 });
    expect((await b.fleet.status()).map((s) => s.rows)).toEqual([0, 0]); // shard 0's row of B given back
    gate.release!();
    expect((await first).sequences.map((s) => s.tokenIds)).toEqual(want[0]);
    expect((await a.engine.shards!()).recoveries).toBe(0); // refused, not lost: nothing was rebuilt
    await expectNothingHeld(a.fleet);
    await expectNothingHeld(b.fleet);
    expect((await a.fleet.status()).map((s) => [s.kvBytes, s.isolate.rows, s.isolate.kvBytes, s.isolate.chargedBytes])).toEqual([[0, 0, 0, 0], [0, 0, 0, 0]]);
  });

  it("a request that waits while the other front's rows run starts once they leave, with the unsharded ids", async () => {
    const [wantA, wantB] = [await expected(model, A), await expected(model, B)];
    const { a, b } = await twoFronts();
    const gate: { release?: () => void } = {};
    const first = a.engine.submit({ ...A()[0], listener: { token: () => void (gate.release ??= a.fleet.hold()), finish: () => undefined } });
    while (!gate.release) await tick();
    const second = b.engine.submit(B()[0]); // no deadline: it waits for room
    while ((await b.fleet.status())[0].isolate.refusals === 0) await tick();
    // Refused, and back in the queue (between its tries: each takes it out for the prefill).
    while (b.engine.activity().waiting === 0) await tick();
    expect(b.engine.activity()).toEqual({ rows: 0, waiting: 1 });
    gate.release!();
    expect((await first).sequences.map((s) => s.tokenIds)).toEqual(wantA[0]);
    const waited = await second;
    expect(waited.sequences.map((s) => s.tokenIds)).toEqual(wantB[0]);
    expect(waited.waitMs).toBeGreaterThan(0);
    await expectNothingHeld(a.fleet);
    await expectNothingHeld(b.fleet);
    expect((await b.fleet.status()).map((s) => s.isolate.chargedBytes)).toEqual([0, 0]);
  });
});
