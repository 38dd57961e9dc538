import { describe, expect, it } from "vitest";
import { checkFits, kvCopies, KvBudgetError, kvBudget, kvBytesFor, kvBytesLeft, kvBytesPerPosition, longestAlone, shardedKvBudget } from "../../src/engine/kv-budget";
import { BatchScheduler, type GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { fakeManifest, fakeModel, fakeScheduler } from "./fake-model";

const MiB = 2 ** 20;
// distilgpt2: 6 layers × 768 wide; fp32 keys and values.
const distil = { ...fakeManifest("right"), architecture: { ...fakeManifest().architecture, n_layer: 6, n_head: 12, n_embd: 768 } };

describe("kvBudget", () => {
  it("is the isolate minus the loaded model and the JS reserve, every copy of a step's keys/values counted", () => {
    const budget = kvBudget(distil, 101 * MiB, { isolateBytes: 128 * MiB, jsReserveBytes: 12 * MiB, prefixCacheBytes: 16 * MiB });
    // 6 layers × (key + value) × 768 × 4 bytes = 36 KiB per copy; WASM past + WASM present, the JS
    // cache (a right-padded graph: its reshapes release the old arrays one by one), and one copy's
    // worth of heap for a whole prompt's prefill.
    expect(budget.bytesPerPosition).toBe(4 * 36_864);
    // 15 MiB left: the prefix cache gets at most a quarter of it, the batch the rest.
    expect(budget.prefixCacheBytes).toBe(Math.floor((15 * MiB) / 4));
    expect(budget.batchBytes + budget.prefixCacheBytes).toBe(15 * MiB);
    expect(Math.floor(budget.batchBytes / budget.bytesPerPosition)).toBe(80); // tokens in flight
    // Three quarters of the batch's share are planned into onnxruntime's heap (two copies and the slack).
    expect(budget.wasmBytes).toBe(Math.floor((budget.batchBytes * 3) / 4));
  });

  it("counts a second JS copy for a left-padded graph (it returns the whole present every step)", () => {
    const left = { ...distil, io: { ...distil.io, kv_padding: "left" as const } };
    const budget = kvBudget(left, 101 * MiB, { isolateBytes: 128 * MiB, jsReserveBytes: 12 * MiB, prefixCacheBytes: 0 });
    expect(budget.bytesPerPosition).toBe(5 * 36_864);
    expect(budget.wasmBytes).toBe(Math.floor((budget.batchBytes * 3) / 5));
  });

  it("a request that can never fit is refused naming what to lower", () => {
    const budget = kvBudget(distil, 101 * MiB, { isolateBytes: 128 * MiB, jsReserveBytes: 12 * MiB, prefixCacheBytes: 0 });
    // 15 MiB / 144 KiB = 106 positions; one row alone also needs its cache's headroom (at least 16).
    expect(longestAlone(budget)).toBe(90);
    expect(() => checkFits(budget, 1, 90)).not.toThrow();
    const tooLong = (() => { try { checkFits(budget, 1, 91); } catch (e) { return e; } })() as KvBudgetError;
    expect(tooLong).toBeInstanceOf(KvBudgetError);
    expect(tooLong.field).toBe("max_new_tokens");
    expect(tooLong.message).toMatch(/needs 15\.0 MiB of keys\/values \(1 sequence\(s\) × 91 tokens.*more than this deployment's 15\.0 MiB budget \(90 tokens for one sequence alone/);
    const tooMany = (() => { try { checkFits(budget, 8, 10); } catch (e) { return e; } })() as KvBudgetError;
    expect(tooMany.field).toBe("num_return_sequences");
  });
});

describe("shardedKvBudget", () => {
  it("is bounded by the shard that admits the fewest positions, each counting only its own blocks", () => {
    const gpt2 = { ...distil, architecture: { ...distil.architecture, n_layer: 12 } };
    const limits = { isolateBytes: 128 * MiB, jsReserveBytes: 12 * MiB };
    // 8 blocks in 60 MiB of weights and 4 blocks in 40 MiB: the first has more room but needs twice
    // the bytes per position (8 × 2 × 768 × 4 × 3 copies: shards' graphs are right-padded).
    const budget = shardedKvBudget(gpt2, [{ layers: [0, 8], modelBytes: 60 * MiB }, { layers: [8, 12], modelBytes: 40 * MiB }], limits)!;
    expect(budget.bytesPerPosition).toBe(8 * 2 * 768 * 4 * 3);
    expect(budget.modelBytes).toBe(60 * MiB);
    expect(budget.batchBytes).toBe(56 * MiB);
    expect(budget.prefixCacheBytes).toBe(0);
    // Most weights on the smaller shard: 36 MiB for 4 blocks (9 MiB a block) is tighter than 86 MiB for 8.
    expect(shardedKvBudget(gpt2, [{ layers: [0, 8], modelBytes: 30 * MiB }, { layers: [8, 12], modelBytes: 80 * MiB }], limits)!.modelBytes).toBe(80 * MiB);
  });

  it("never counts a shard for more than the budget it reports for its own isolate", () => {
    const gpt2 = { ...distil, architecture: { ...distil.architecture, n_layer: 12 } };
    const limits = { isolateBytes: 160 * MiB, jsReserveBytes: 12 * MiB };
    const shards = [{ layers: [0, 6] as const, modelBytes: 40 * MiB }, { layers: [6, 12] as const, modelBytes: 40 * MiB }];
    // The front was given 160 MiB, the shards 128: the front admits what the shards will take.
    expect(shardedKvBudget(gpt2, shards, limits)!.batchBytes).toBe(108 * MiB);
    const own = shards.map((shard, i) => ({ ...shard, budgetBytes: (i === 1 ? 76 : 90) * MiB }));
    expect(shardedKvBudget(gpt2, own, limits)!.batchBytes).toBe(76 * MiB);
    // A shard with more room than the front's formula gives it is still held to the front's.
    expect(shardedKvBudget(gpt2, own.map((s) => ({ ...s, budgetBytes: 200 * MiB })), limits)!.batchBytes).toBe(108 * MiB);
    // A front with no limit of its own admits by the shards' budgets; nobody limited: no budget.
    expect(shardedKvBudget(gpt2, own, { ...limits, isolateBytes: 0 })!.batchBytes).toBe(76 * MiB);
    expect(shardedKvBudget(gpt2, shards.map((s) => ({ ...s, budgetBytes: null })), { ...limits, isolateBytes: 0 })).toBeNull();
  });
});

describe("the scheduler with a KV byte budget", () => {
  const job = (promptIds: number[], overrides: Partial<GenerationJob> = {}): GenerationJob => ({
    promptIds, maxNewTokens: 8, numSequences: 1, sampling: SAMPLING_DEFAULTS, seed: 1, stop: [], eosTokenId: 50256,
    budget: { deadline: null, now: Date.now }, ...overrides,
  });

  it("admits rows by the bytes they can reach: a request that does not fit beside the running ones waits", async () => {
    const model = fakeModel({ padding: "right" });
    // Room for 64 positions (with headroom) in all: one row of 4 + 8 = 12 → 28 with headroom; two such rows fit, three do not.
    const budget = { bytesPerPosition: 1, batchBytes: 64, wasmBytes: 42, prefixCacheBytes: 0, isolateBytes: 0, modelBytes: 0, jsReserveBytes: 0 };
    const scheduler = new BatchScheduler(model.forward, model.layout, { maxBatchRows: 8, maxWaiting: 8, budget });
    const results = await Promise.all([1, 2, 3].map((i) => scheduler.submit(job([i, i, i, i]))));
    expect(results.every((r) => r.sequences[0].tokenIds.length === 8)).toBe(true);
    expect(Math.max(...model.calls.map((c) => c.batch))).toBe(2); // never three rows at once
    await expect(scheduler.submit(job([1], { maxNewTokens: 100 }))).rejects.toBeInstanceOf(KvBudgetError);
  });

  it("without a budget, rows are limited by count only", async () => {
    const model = fakeModel({ padding: "right" });
    const scheduler = fakeScheduler(model);
    await Promise.all([1, 2, 3].map((i) => scheduler.submit(job([i, i, i, i]))));
    expect(Math.max(...model.calls.map((c) => c.batch))).toBe(3);
  });
});

describe("the one cost model of keys/values", () => {
  it("counts each block's key and value, fp32, times every copy alive in a step; rows padded to the longest, with headroom", () => {
    expect([kvCopies("right"), kvCopies("left")]).toEqual([3, 4]);
    expect(kvBytesPerPosition(768, 3)).toBe(3 * 2 * 768 * 4 * 3);
    expect(kvBytesPerPosition(768, 3, 4)).toBe(3 * 2 * 768 * 4 * 4);
    expect(kvBytesPerPosition(1024, 0)).toBe(0);
    // 1,024 positions keep an eighth of headroom; 100 at least 16.
    expect(kvBytesFor(10, 1, 1024)).toBe(1152 * 10);
    expect(kvBytesFor(10, 8, 100)).toBe(8 * 116 * 10);
    expect(kvBytesLeft(128 * MiB, 40 * MiB, 24 * MiB)).toBe(64 * MiB);
    expect(kvBytesLeft(128 * MiB, 110 * MiB, 24 * MiB)).toBe(0);
  });

  it("is what the unsharded budget, the sharded front's and checkFits count with", () => {
    const limits = { isolateBytes: 128 * MiB, jsReserveBytes: 12 * MiB };
    expect(kvBudget(distil, 101 * MiB, { ...limits, prefixCacheBytes: 0 }).bytesPerPosition).toBe(kvBytesPerPosition(768, 6, 4)); // + the prefill slack
    const budget = shardedKvBudget(distil, [{ layers: [0, 2], modelBytes: 50 * MiB }, { layers: [2, 6], modelBytes: 50 * MiB }], limits)!;
    expect(budget.bytesPerPosition).toBe(kvBytesPerPosition(768, 4));
    expect(budget.batchBytes).toBe(kvBytesLeft(128 * MiB, 50 * MiB, 12 * MiB));
    const fits = Math.floor(budget.batchBytes / kvBytesFor(budget.bytesPerPosition, 1, 100));
    expect(() => checkFits(budget, fits, 100)).not.toThrow();
    expect(() => checkFits(budget, fits + 1, 100)).toThrow(KvBudgetError);
  });
});
