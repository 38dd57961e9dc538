import { describe, expect, it } from "vitest";
import { SchedulerBusyError, type GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS, type SamplingSettings } from "../../src/sampling/index";
import { deriveSeed } from "../../src/sampling/rng";
import { fakeModel, fakeScheduler, generateAlone } from "./fake-model";

const EOS = 50256;
const GREEDY = { ...SAMPLING_DEFAULTS };
const SAMPLED: SamplingSettings = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0 };

function job(promptIds: number[], overrides: Partial<GenerationJob> = {}): GenerationJob {
  return {
    promptIds, maxNewTokens: 10, numSequences: 1, sampling: GREEDY, seed: 99, stop: [], eosTokenId: EOS,
    budget: { deadline: null, now: Date.now }, ...overrides,
  };
}

/** The same sequence generated alone, with no cache and no batch. */
const alone = (spec: GenerationJob, index = 0, eosBias = 0) =>
  generateAlone(spec.promptIds, spec.sampling, deriveSeed(spec.seed, index), spec.maxNewTokens, eosBias);

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("BatchScheduler", () => {
  // Optimum exports read a left-padded cache, our GroupQueryAttention graphs a right-padded one.
  describe.each(["left", "right"] as const)("with %s-padded keys/values", (padding) => {
    it("requests arriving mid-generation join the batch; every output equals the request run alone", async () => {
      const model = fakeModel({ eosBias: 12.5, padding });
      const scheduler = fakeScheduler(model, { maxBatchRows: 8, maxWaiting: 8 });
      const specs = [
        job([1, 2, 3], { maxNewTokens: 14 }),
        job([40, 41, 42, 43, 44, 45, 46], { sampling: SAMPLED, seed: 5, numSequences: 3, maxNewTokens: 9 }),
        job([7], { maxNewTokens: 6 }),
        job([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], { sampling: SAMPLED, seed: 11, maxNewTokens: 12 }),
      ];
      const pending = [];
      for (const spec of specs) {
        pending.push(scheduler.submit(spec));
        await tick(); // the next request arrives after a step or so
        await tick();
      }
      const results = await Promise.all(pending);
      results.forEach((result, j) => {
        result.sequences.forEach((sequence, i) => expect(sequence.tokenIds, `request ${j} row ${i}`).toEqual(alone(specs[j], i, 12.5)));
      });
      expect(Math.max(...model.calls.map((c) => c.batch))).toBeGreaterThan(3); // really batched across requests
      expect(model.calls.some((c) => c.attentionMask.includes(0))).toBe(true); // with padding
    });

    it("trims padding nobody needs once the longest row leaves", async () => {
      const model = fakeModel({ padding });
      const scheduler = fakeScheduler(model, { maxBatchRows: 4, maxWaiting: 4 });
      const long = scheduler.submit(job(Array.from({ length: 30 }, (_, i) => i + 100), { maxNewTokens: 3 }));
      await tick();
      const short = scheduler.submit(job([5, 6], { maxNewTokens: 12 }));
      await Promise.all([long, short]);
      const last = model.calls[model.calls.length - 1];
      expect(last.batch).toBe(1);
      expect(last.past!.length).toBeLessThan(15); // not 30-odd: the long row's padding is gone
    });
  });

  it("makes requests wait beyond maxBatchRows and refuses beyond maxWaiting", async () => {
    const model = fakeModel();
    const scheduler = fakeScheduler(model, { maxBatchRows: 2, maxWaiting: 1 });
    const a = scheduler.submit(job([1], { numSequences: 2, sampling: SAMPLED }));
    const b = scheduler.submit(job([2]));
    await expect(scheduler.submit(job([3]))).rejects.toBeInstanceOf(SchedulerBusyError);
    await Promise.all([a, b]);
    expect(Math.max(...model.calls.map((c) => c.batch))).toBe(2);
    expect(scheduler.activity).toEqual({ rows: 0, waiting: 0 });
  });

  it("a failing forward step fails the requests in that batch only; the scheduler serves the next ones", async () => {
    let failNext = true;
    const model = fakeModel({ fail: (input) => input.seq === 1 && failNext && !(failNext = false) });
    const scheduler = fakeScheduler(model, { maxBatchRows: 4, maxWaiting: 4 });
    const doomed = [scheduler.submit(job([1, 2])), scheduler.submit(job([3, 4]))];
    await expect(Promise.all(doomed)).rejects.toThrow(/fake model failure/);
    const next = await scheduler.submit(job([5, 6]));
    expect(next.sequences[0].tokenIds).toEqual(alone(job([5, 6])));
  });

  it("an exception inside one request's sequence does not disturb the others", async () => {
    const model = fakeModel();
    const scheduler = fakeScheduler(model, { maxBatchRows: 4, maxWaiting: 4 });
    let tokens = 0;
    const broken = scheduler.submit(job([1, 2], {
      listener: { token: () => { if (++tokens === 3) throw new Error("client stream broke"); }, finish: () => {} },
    }));
    const fine = scheduler.submit(job([3, 4]));
    await expect(broken).rejects.toThrow(/client stream broke/);
    expect((await fine).sequences[0].tokenIds).toEqual(alone(job([3, 4])));
  });

  it("an aborted request leaves the batch within one step; the rest go on", async () => {
    const model = fakeModel();
    const scheduler = fakeScheduler(model, { maxBatchRows: 4, maxWaiting: 4 });
    const controller = new AbortController();
    const aborted = scheduler.submit(job([1, 2], { maxNewTokens: 50, budget: { deadline: null, now: Date.now, signal: controller.signal } }));
    const other = scheduler.submit(job([3, 4], { maxNewTokens: 20 }));
    await tick();
    await tick();
    controller.abort();
    const stepsAtAbort = model.calls.length;
    const result = await aborted;
    expect(result.sequences[0].finishReason).toBe("cancelled");
    expect(model.calls.filter((c, i) => i > stepsAtAbort && c.batch === 2).length).toBeLessThanOrEqual(1);
    expect((await other).sequences[0].tokenIds).toEqual(alone(job([3, 4], { maxNewTokens: 20 })));
  });

  it("a request whose budget runs out while it waits for a slot is refused (retry later), not an empty success", async () => {
    const scheduler = fakeScheduler(fakeModel(), { maxBatchRows: 1, maxWaiting: 4 });
    const first = scheduler.submit(job([1], { maxNewTokens: 5 }));
    const late = scheduler.submit(job([2], { budget: { deadline: Date.now() + 5, now: Date.now } }));
    const error = await late.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchedulerBusyError);
    expect((error as SchedulerBusyError).message).toMatch(/waited \d+ ms for a batch slot and its time budget ran out/);
    expect((error as SchedulerBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await first;
  });

  it("refuses at once a request that cannot start before its deadline even in the best case of the queue's upper bound", async () => {
    const slow = fakeModel({ onStep: () => { const until = Date.now() + 5; while (Date.now() < until); } });
    const scheduler = fakeScheduler(slow, { maxBatchRows: 1, maxWaiting: 4 });
    const running = scheduler.submit(job([1], { maxNewTokens: 200 }));
    while (scheduler.activity.rows === 0) await tick();
    for (let i = 0; i < 5; i++) await tick(); // a few steps, so the scheduler knows its step time
    // 200 steps of ≥ 5 ms each are ahead of it: a 100 ms budget cannot start in time.
    const error = await scheduler.submit(job([2], { budget: { deadline: Date.now() + 100, now: Date.now } })).catch((e: unknown) => e);
    expect(scheduler.activity).toEqual({ rows: 1, waiting: 0 }); // refused at once: never queued, the first still runs
    expect(error).toBeInstanceOf(SchedulerBusyError);
    expect((error as SchedulerBusyError).message).toMatch(/need about \d+ s before a batch slot frees up, longer than its time budget/);
    // One with room in its budget is queued as usual.
    const patient = scheduler.submit(job([3], { maxNewTokens: 2 }));
    expect((await patient).sequences[0].tokenIds).toHaveLength(2);
    await running;
  });
});
