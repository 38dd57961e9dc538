// The isolate's memory as the platform counts it (JS heap + ArrayBuffers + WASM; see
// tools/lib/isolate-memory.ts), sampled through the bench Worker's phases: model load, one long
// generation, rows × tokens generated at once, and what is left after a mix of whole requests.
import { IsolateMemory, type IsolateSample, type PhaseMemory } from "../lib/isolate-memory.js";
import type { SpeedPlan } from "./plan.js";
import { BENCH_DIR } from "./models.js";
import { startBenchWorker, type BenchWorker } from "./workerd.js";

export interface IsolateResult {
  /** Before anything is loaded, after a full GC. */
  idle: IsolateSample;
  load: PhaseMemory;
  /** One generation of plan.memoryTokens tokens from an 8-token prompt. */
  single: PhaseMemory;
  /** plan.isolateRows greedy generations of plan.isolateTokens tokens each, all at once. */
  concurrent: PhaseMemory;
  /** plan.mixedRequests whole requests (mixed-requests.ts); `after` is what the isolate keeps. */
  mixed: PhaseMemory;
  mixedStatuses: Record<number, number>;
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
export async function benchIsolate(model: string, plan: SpeedPlan): Promise<IsolateResult> {
  const worker = await startBenchWorker(BENCH_DIR);
  const { isolate, idle } = await connectIsolate(worker);
  try {
    const load = await isolate.measure(() => worker.call<{ wasmBytes: number }>("/load", { model }));
    const single = await isolate.measure(() => worker.call("/generate", { model, promptTokens: 8, newTokens: plan.memoryTokens }));
    const concurrent = await isolate.measure(() => worker.call("/batch", { model, rows: plan.isolateRows, newTokens: plan.isolateTokens }));
    const mixed = await isolate.measure(() =>
      worker.call<{ statuses: Record<number, number> }>("/mixed", { model, requests: plan.mixedRequests, concurrency: plan.mixedConcurrency }),
    );
    return {
      idle,
      load: load.memory,
      single: single.memory,
      concurrent: concurrent.memory,
      mixed: mixed.memory,
      mixedStatuses: mixed.result.statuses,
      wasmInsideAfterLoad: load.result.wasmBytes,
      plan: { memoryTokens: plan.memoryTokens, isolateRows: plan.isolateRows, isolateTokens: plan.isolateTokens, mixedRequests: plan.mixedRequests },
    };
  } finally {
    isolate.close();
    await worker.close();
  }
}
