// The isolate's memory as the platform counts it (JS heap + ArrayBuffers + WASM; see
// tools/lib/isolate-memory.ts), sampled through the bench Worker's phases: model load, one long
// generation, rows × tokens generated at once, and what is left after a mix of whole requests.
import { IsolateMemory, type IsolateSample, type PhaseMemory } from "../lib/isolate-memory.js";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SpeedPlan } from "./plan.js";
import { BENCH_DIR } from "./models.js";
import { startBenchWorker, type BenchWorker } from "./workerd.js";
import { longestAlone, type KvBudget } from "../../src/engine/kv-budget.js";

export interface IsolateResult {
  /** Graph weights + embedding. */
  weightBytes: number;
  /** Before anything is loaded, after a full GC. */
  idle: IsolateSample;
  /** Each phase's figures; a phase that failed (and the ones after it) is missing. */
  load?: PhaseMemory;
  /** One generation of plan.memoryTokens tokens from an 8-token prompt. */
  single?: PhaseMemory;
  /** One generation as long as the KV budget lets one sequence run alone (8-token prompt). */
  longest?: PhaseMemory & { tokens: number };
  /** plan.isolateRows greedy generations of plan.isolateTokens tokens each (fewer when the budget
   * cannot hold one such row), all at once. */
  concurrent?: PhaseMemory & { tokens: number };
  /** plan.mixedRequests whole requests (mixed-requests.ts); `after` is what the isolate keeps. */
  mixed?: PhaseMemory;
  mixedStatuses: Record<number, number>;
  /** Rounds 2, 3 of the same mix: peak and after-GC figures, to see that the isolate levels off. */
  soak: PhaseMemory[];
  /** Cross-check: ORT's WASM memory after load as read inside the isolate by the bench Worker. */
  wasmInsideAfterLoad: number;
  /** Inside session creation (no sampler can look): weights still held + WASM, at its largest. */
  createPeakBytes: number;
  /** The KV byte budget the deployment's config gave (null: none). */
  kvBudget: KvBudget | null;
  /** Phases that did not run to the end, and why (a refused request is itself a finding). */
  failures: string[];
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
  // The model's weights wherever they live: the graphs' (ORT's heap), the embedding and the MLPs (the kernels').
  const manifest = JSON.parse(await readFile(join(BENCH_DIR, model, "manifest.json"), "utf8")) as { files: { role: string; bytes: number }[]; architecture: { n_positions: number } };
  const weightBytes = manifest.files.filter((f) => f.role === "weights" || f.role === "embedding" || f.role === "mlp").reduce((sum, f) => sum + f.bytes, 0);
  const worker = await startBenchWorker(BENCH_DIR);
  await worker.call("/r2-put", { model }); // served from local R2, as deployed (before the idle figure)
  const { isolate, idle } = await connectIsolate(worker);
  const result: IsolateResult = {
    weightBytes,
    idle,
    mixedStatuses: {},
    wasmInsideAfterLoad: NaN,
    createPeakBytes: NaN,
    kvBudget: null,
    failures: [],
    soak: [],
    plan: { memoryTokens: plan.memoryTokens, isolateRows: plan.isolateRows, isolateTokens: plan.isolateTokens, mixedRequests: plan.mixedRequests },
  };
  // Every call runs the deployment's memory config (deployed: the KV byte budget of
  // ISOLATE_MEMORY_BYTES' default): rows beyond it queue, a request that can never fit is refused.
  const call = <T>(path: string, body: Record<string, unknown>) => worker.call<T>(path, { model, deployed: true, ...body });
  /** A phase that fails is reported in the table and the next one still runs (unless load failed). */
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      result.failures.push(`${name}: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
      return undefined;
    }
  };
  try {
    type Load = { wasmBytes: number; createPeakBytes: number; kvBudget: IsolateResult["kvBudget"] };
    const load = await phase("load", () => isolate.measure(() => call<Load>("/load", {})));
    if (load) {
      [result.load, result.wasmInsideAfterLoad] = [load.memory, load.result.wasmBytes];
      [result.createPeakBytes, result.kvBudget] = [load.result.createPeakBytes, load.result.kvBudget];
      result.single = (await phase(`1 × ${plan.memoryTokens} tokens`, () => isolate.measure(() => call("/generate", { promptTokens: 8, newTokens: plan.memoryTokens }))))?.memory;
      // (never past the context window: the tiny model's budget holds more tokens than its window)
      const tokens = result.kvBudget ? Math.min(longestAlone(result.kvBudget), manifest.architecture.n_positions) - 8 : 0;
      if (tokens > 0) {
        const longest = await phase(`1 × ${tokens} tokens (the longest that fits)`, () => isolate.measure(() => call("/generate", { promptTokens: 8, newTokens: tokens })));
        if (longest) result.longest = { ...longest.memory, tokens };
      }
      // Rows the budget cannot hold at once queue; a row that can never fit would be refused, so
      // under a small budget each row is as long as one can be (16-token prompts).
      const rowTokens = result.kvBudget ? Math.min(plan.isolateTokens, longestAlone(result.kvBudget) - 16) : plan.isolateTokens;
      if (rowTokens > 0) {
        const concurrent = await phase(`${plan.isolateRows} × ${rowTokens} tokens at once`, () => isolate.measure(() => call("/batch", { rows: plan.isolateRows, newTokens: rowTokens })));
        if (concurrent) result.concurrent = { ...concurrent.memory, tokens: rowTokens };
      } else result.failures.push(`${plan.isolateRows} × ${plan.isolateTokens} tokens at once: not run, the KV budget holds no 16-token prompt`);
      const mixed = await phase(`${plan.mixedRequests} mixed requests`, () =>
        isolate.measure(() => call<{ statuses: Record<number, number> }>("/mixed", { requests: plan.mixedRequests, concurrency: plan.mixedConcurrency })),
      );
      if (mixed) [result.mixed, result.mixedStatuses] = [mixed.memory, mixed.result.statuses];
      // A short soak: the same mix again, twice; what the isolate keeps must level off.
      for (let round = 2; mixed && round <= 3; round++) {
        const again = await phase(`mixed requests, round ${round}`, () =>
          isolate.measure(() => call("/mixed", { requests: plan.mixedRequests, concurrency: plan.mixedConcurrency })),
        );
        if (!again) break;
        result.soak.push(again.memory);
      }
    }
  } finally {
    isolate.close();
    await worker.close();
  }
  return result;
}
