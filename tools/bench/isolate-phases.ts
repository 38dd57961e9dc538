// The isolate's memory as the platform counts it (JS heap + ArrayBuffers + WASM; see
// tools/lib/isolate-memory.ts), sampled through the bench Worker's phases: model load, one long
// generation, rows × tokens generated at once, and what is left after a mix of whole requests.
import { IsolateMemory, type IsolateSample, type PhaseMemory } from "../lib/isolate-memory.js";
import type { SpeedPlan } from "./plan.js";
import { BENCH_DIR } from "./models.js";
import { startBenchWorker, type BenchWorker } from "./workerd.js";

export interface IsolateResult {
  weightBytes: number;
  /** Before anything is loaded, after a full GC. */
  idle: IsolateSample;
  /** Each phase's figures; a phase that failed (and the ones after it) is missing. */
  load?: PhaseMemory;
  /** One generation of plan.memoryTokens tokens from an 8-token prompt. */
  single?: PhaseMemory;
  /** plan.isolateRows greedy generations of plan.isolateTokens tokens each, all at once. */
  concurrent?: PhaseMemory;
  /** plan.mixedRequests whole requests (mixed-requests.ts); `after` is what the isolate keeps. */
  mixed?: PhaseMemory;
  mixedStatuses: Record<number, number>;
  /** The phase that failed and why (e.g. workerd restarted the isolate mid-request). */
  failure?: string;
  /** Cross-check: ORT's WASM memory after load as read inside the isolate by the bench Worker. */
  wasmInsideAfterLoad: number;
  plan: Pick<SpeedPlan, "memoryTokens" | "isolateRows" | "isolateTokens" | "mixedRequests">;
}

/** Connects to the bench Worker's isolate; the first figure is the idle one. */
export async function connectIsolate(worker: BenchWorker): Promise<{ isolate: IsolateMemory; idle: IsolateSample }> {
  const isolate = await IsolateMemory.connect(worker.inspectorPort, () => worker.ping());
  return { isolate, idle: await isolate.afterGc() };
}

/**
 * A fresh workerd of its own (so the figures start from an empty isolate and the speed run is not
 * disturbed): load, one long generation, rows × tokens at once, then the mixed requests.
 */
export async function benchIsolate(model: string, weightBytes: number, plan: SpeedPlan): Promise<IsolateResult> {
  const worker = await startBenchWorker(BENCH_DIR);
  const { isolate, idle } = await connectIsolate(worker);
  const result: IsolateResult = {
    weightBytes,
    idle,
    mixedStatuses: {},
    wasmInsideAfterLoad: NaN,
    plan: { memoryTokens: plan.memoryTokens, isolateRows: plan.isolateRows, isolateTokens: plan.isolateTokens, mixedRequests: plan.mixedRequests },
  };
  let phase = "load";
  try {
    const load = await isolate.measure(() => worker.call<{ wasmBytes: number }>("/load", { model }));
    [result.load, result.wasmInsideAfterLoad] = [load.memory, load.result.wasmBytes];
    phase = `1 × ${plan.memoryTokens} tokens`;
    result.single = (await isolate.measure(() => worker.call("/generate", { model, promptTokens: 8, newTokens: plan.memoryTokens }))).memory;
    phase = `${plan.isolateRows} × ${plan.isolateTokens} tokens at once`;
    result.concurrent = (await isolate.measure(() => worker.call("/batch", { model, rows: plan.isolateRows, newTokens: plan.isolateTokens }))).memory;
    phase = `${plan.mixedRequests} mixed requests`;
    const mixed = await isolate.measure(() =>
      worker.call<{ statuses: Record<number, number> }>("/mixed", { model, requests: plan.mixedRequests, concurrency: plan.mixedConcurrency }),
    );
    [result.mixed, result.mixedStatuses] = [mixed.memory, mixed.result.statuses];
  } catch (error) {
    // Reported in the table rather than ending the run: a restarted isolate is itself a finding.
    result.failure = `${phase}: ${error instanceof Error ? error.message.slice(0, 160) : String(error)}`;
  } finally {
    isolate.close();
    await worker.close();
  }
  return result;
}
