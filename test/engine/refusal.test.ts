// A model that refuses a step for memory held outside the isolate (ForwardOverloadedError: a sharded
// model's shard isolate shared with other fronts, src/shard/memory.ts): the scheduler treats a
// refused prefill as a full batch — the request waits at the head of the queue, then starts, or
// gets SchedulerBusyError (503 overloaded) when its budget runs out — and retries a refused decode
// step with its rows as they were. Outputs stay those of each request alone.
import { describe, expect, it } from "vitest";
import { ForwardOverloadedError, type Forward, type ForwardInput } from "../../src/engine/forward";
import { SchedulerBusyError, type GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { deriveSeed } from "../../src/sampling/rng";
import { fakeModel, fakeScheduler, generateAlone } from "./fake-model";

const SAMPLED = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0 };

function job(promptIds: number[], overrides: Partial<GenerationJob> = {}): GenerationJob {
  return {
    promptIds, maxNewTokens: 8, numSequences: 1, sampling: SAMPLED, seed: 42, stop: [], eosTokenId: 50256,
    budget: { deadline: null, now: Date.now }, ...overrides,
  };
}

const alone = (spec: GenerationJob, index = 0) => generateAlone(spec.promptIds, spec.sampling, deriveSeed(spec.seed, index), spec.maxNewTokens);

/** The fake model (right-padded), refusing the steps `refuse` picks before computing anything. */
function refusing(refuse: (input: ForwardInput) => boolean) {
  const model = fakeModel({ padding: "right" });
  const inputs: ForwardInput[] = [];
  const forward: Forward = (input) => {
    inputs.push(input);
    return refuse(input) ? Promise.reject(new ForwardOverloadedError("ShardOverloaded: no room in the test")) : model.forward(input);
  };
  return { model: { ...model, forward }, inputs };
}

describe("a model that refuses steps for memory held elsewhere", () => {
  it("a refused prefill waits at the head of the queue and starts later: the same ids, onStart only once it runs", async () => {
    let refusals = 0;
    const { model, inputs } = refusing((input) => input.past === null && refusals++ < 3);
    const events: string[] = [];
    const spec = job([5, 6, 7], { numSequences: 2, onStart: () => events.push(`start after ${refusals} refusals`) });
    const result = await fakeScheduler(model).submit(spec);
    expect(result.sequences.map((s) => s.tokenIds)).toEqual([alone(spec, 0), alone(spec, 1)]);
    expect(events).toEqual(["start after 4 refusals"]); // (the 4th try counted, and ran)
    expect(result.waitMs).toBeGreaterThanOrEqual(50 + 100 + 200); // the backoff between tries
    // Every try tells the model what the rows may take: prompt + max_new_tokens, and both sequences.
    expect(inputs.filter((i) => i.past === null).map((i) => i.reserve)).toEqual(Array(4).fill({ positions: 3 + 8, rows: 2 }));
  });

  it("past its time budget a refused request gets SchedulerBusyError; a running one is not disturbed", async () => {
    let running = true;
    const { model } = refusing((input) => input.past === null && input.inputIds[0] === 9 && running);
    const scheduler = fakeScheduler(model);
    const first = job([1, 2, 3], { maxNewTokens: 40 });
    const pending = scheduler.submit(first);
    let started = false;
    const deadline = Date.now() + 300;
    const refused = await scheduler.submit(job([9, 9], { budget: { deadline, now: Date.now }, onStart: () => (started = true) })).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SchedulerBusyError);
    expect((refused as Error).message).toMatch(/waited \d+ ms for room for its keys\/values \(ShardOverloaded: no room in the test\) and its time budget ran out/);
    expect((refused as SchedulerBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(started).toBe(false); // no 200 went out: the response can still be a 503
    running = false;
    expect((await pending).sequences[0].tokenIds).toEqual(alone(first));
    expect(scheduler.activity).toEqual({ rows: 0, waiting: 0 });
  });

  it("a refused decode step is taken again later with the rows as they were", async () => {
    let steps = 0;
    const { model, inputs } = refusing((input) => input.past !== null && ++steps % 3 === 0);
    const scheduler = fakeScheduler(model);
    const specs = [job([1, 2], { numSequences: 2 }), job([3, 4, 5], { seed: 7 })];
    const results = await Promise.all(specs.map((spec) => scheduler.submit(spec)));
    expect(results.map((r) => r.sequences.map((s) => s.tokenIds))).toEqual([[alone(specs[0], 0), alone(specs[0], 1)], [alone(specs[1])]]);
    expect(inputs.filter((i) => i.past !== null).length).toBeGreaterThan(results[0].steps + 2); // refused steps were retried
  });
});
