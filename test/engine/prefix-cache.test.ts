import { describe, expect, it } from "vitest";
import { PrefixCache } from "../../src/engine/prefix-cache";
import type { KvCache } from "../../src/engine/forward";
import { BatchScheduler, type GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS, type SamplingSettings } from "../../src/sampling/index";
import { fakeModel } from "./fake-model";

/** A one-row cache whose values are the token ids (like the fake model's). */
const kvOf = (ids: number[]): KvCache => ({ batch: 1, heads: 1, length: ids.length, tensors: [Float32Array.from(ids), Float32Array.from(ids)] });
const logitsOf = (x: number) => Float32Array.from([x, x + 1]);

describe("PrefixCache", () => {
  it("an exact repeat reuses every position and returns a copy of the logits", () => {
    const cache = new PrefixCache(1 << 20);
    cache.store([1, 2, 3], kvOf([1, 2, 3]), logitsOf(7));
    const hit = cache.lookup([1, 2, 3])!;
    expect(hit.length).toBe(3);
    expect(Array.from(hit.logits!)).toEqual([7, 8]);
    hit.logits![0] = 99; // the chooser mutates logits in place: the cache must not see it
    expect(cache.lookup([1, 2, 3])!.logits![0]).toBe(7);
  });

  it("an extension reuses the cached prompt; a prefix of a cached prompt reuses all but its last position", () => {
    const cache = new PrefixCache(1 << 20);
    cache.store([1, 2, 3, 4], kvOf([1, 2, 3, 4]), logitsOf(0));
    const longer = cache.lookup([1, 2, 3, 4, 5, 6])!;
    expect([longer.length, Array.from(longer.kv.tensors[0]), longer.logits]).toEqual([4, [1, 2, 3, 4], null]);
    const shorter = cache.lookup([1, 2, 3])!;
    expect([shorter.length, Array.from(shorter.kv.tensors[0]), shorter.logits]).toEqual([2, [1, 2], null]);
    expect(cache.lookup([9, 2, 3])).toBeNull();
    expect(cache.lookup([1, 7])).toBeNull(); // one shared token is below the minimum worth reusing
  });

  it("picks the longest shared prefix", () => {
    const cache = new PrefixCache(1 << 20);
    cache.store([1, 2, 9], kvOf([1, 2, 9]), logitsOf(0));
    cache.store([1, 2, 3, 9], kvOf([1, 2, 3, 9]), logitsOf(0));
    expect(cache.lookup([1, 2, 3, 4, 5])!.length).toBe(3);
  });

  it("stays within its byte budget, evicting the least recently used", () => {
    const entryBytes = 2 * 3 * 4 + 2 * 4; // two 3-float tensors + 2-float logits
    const cache = new PrefixCache(entryBytes * 2);
    cache.store([1, 2, 3], kvOf([1, 2, 3]), logitsOf(0));
    cache.store([4, 5, 6], kvOf([4, 5, 6]), logitsOf(0));
    cache.lookup([1, 2, 3]); // now [4,5,6] is the least recently used
    cache.store([7, 8, 9], kvOf([7, 8, 9]), logitsOf(0));
    expect(cache.size).toEqual({ entries: 2, bytes: entryBytes * 2 });
    expect(cache.lookup([4, 5, 6])).toBeNull();
    expect(cache.lookup([1, 2, 3])).not.toBeNull();
  });
});

describe("PrefixCache memory: an entry's arrays are its own", () => {
  it("stores copies and hands out copies, so neither side's changes reach the other", () => {
    const cache = new PrefixCache(1 << 20);
    const stored = kvOf([1, 2, 3]);
    cache.store([1, 2, 3], stored, logitsOf(0));
    stored.tensors[0][0] = 99;
    const hit = cache.lookup([1, 2, 3])!;
    expect(Array.from(hit.kv.tensors[0])).toEqual([1, 2, 3]);
    expect(hit.kv.tensors.some((t, i) => t.buffer === stored.tensors[i].buffer)).toBe(false);
    hit.kv.tensors[0][1] = 77;
    expect(Array.from(cache.lookup([1, 2, 3])!.kv.tensors[0])).toEqual([1, 2, 3]);
  });

  it("gives an evicted entry's memory back at once (its buffers detached), leaving what it handed out intact", () => {
    const entryBytes = 2 * 3 * 4 + 2 * 4;
    const cache = new PrefixCache(entryBytes);
    cache.store([1, 2, 3], kvOf([1, 2, 3]), logitsOf(0));
    const hit = cache.lookup([1, 2, 3])!;
    const entry = (cache as unknown as { entries: { values(): Iterable<{ kv: KvCache; logits: Float32Array }> } }).entries;
    const [first] = [...entry.values()];
    cache.store([4, 5, 6], kvOf([4, 5, 6]), logitsOf(0)); // evicts [1, 2, 3]
    expect(first.kv.tensors.map((t) => t.buffer.byteLength)).toEqual([0, 0]);
    expect(first.logits.buffer.byteLength).toBe(0);
    expect(Array.from(hit.kv.tensors[1])).toEqual([1, 2, 3]);
    expect(Array.from(hit.logits!)).toEqual([0, 1]);
  });
});

describe("the scheduler with a prefix cache", () => {
  const job = (promptIds: number[], sampling: SamplingSettings = SAMPLING_DEFAULTS): GenerationJob => ({
    promptIds, maxNewTokens: 8, numSequences: 1, sampling, seed: 3, stop: [], eosTokenId: 50256, budget: { deadline: null, now: Date.now },
  });

  it("gives exactly the cold-run tokens while skipping the cached positions, sampled requests included", async () => {
    const cold = fakeModel();
    const warm = fakeModel();
    const coldScheduler = new BatchScheduler(cold.forward, cold.layout, { maxBatchRows: 4, maxWaiting: 4 });
    const warmScheduler = new BatchScheduler(warm.forward, warm.layout, { maxBatchRows: 4, maxWaiting: 4 }, { prefixCache: new PrefixCache(1 << 24) });
    const sampled: SamplingSettings = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0 };
    const prompts = [[10, 11, 12, 13, 14, 15], [10, 11, 12, 13, 14, 15], [10, 11, 12, 13, 14, 15, 16, 17], [10, 11, 12]];
    for (const [i, prompt] of prompts.entries()) {
      const spec = job(prompt, i % 2 ? sampled : SAMPLING_DEFAULTS);
      const [a, b] = [await coldScheduler.submit(spec), await warmScheduler.submit(spec)];
      expect(b.sequences).toEqual(a.sequences);
      expect(b.cachedTokens).toBe([0, 6, 6, 2][i]);
    }
    // Decoding was identical, so the positions the warm run did not compute are the cached ones.
    const positions = (calls: typeof cold.calls) => calls.reduce((sum, c) => sum + c.batch * c.seq, 0);
    expect(positions(cold.calls) - positions(warm.calls)).toBe(6 + 6 + 2);
  });
});
