// Measures one model on the three engines: our Worker in workerd, the plain onnxruntime-web loop
// in Node (WASM, 1 thread) and onnxruntime-node (native, 1 intra-op thread), same ONNX file.
import { join } from "node:path";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { BENCH_DIR, plainFolder } from "./models.js";
import { loadPlain } from "./plain-load.js";
import { measurePlain, median, type OrtPackage } from "./plain-loop.js";
import type { EngineResult, SpeedPlan } from "./plan.js";
import { startBenchWorker } from "./workerd.js";
import { benchIsolate, type IsolateResult } from "./isolate-phases.js";

export interface MemoryResult {
  weightBytes: number;
  /** ORT's WASM linear memory right after load, and after load + the generation (never shrinks). */
  wasmAfterLoad: number;
  wasmPeak: number;
  /** workerd process: idle (before load) and peak resident set size. */
  rssIdle: number;
  rssPeak: number;
  generatedTokens: number;
}

export interface CacheResult {
  /** Whole-request latency (HTTP included) of cold generations and of response-cache hits. */
  coldMs: number[];
  hitMs: number[];
  /** A long prompt's request, cold / repeated (prefix cache) / extended by 16 tokens. */
  prefix: { promptTokens: number; coldMs: number; repeatedMs: number; repeatedCachedTokens: number; extendedMs: number; extendedCachedTokens: number };
}

export interface BatchResult {
  rows: number;
  /** Aggregate tokens/s of one request alone and of `rows` requests at once (prefills included). */
  singleTokensPerSecond: number;
  batchedTokensPerSecond: number;
}

export interface ModelResult {
  ours: EngineResult;
  /** The plain loop inside workerd: our serving overhead, on the same runtime. */
  plainWorkerd: EngineResult;
  plainWeb: EngineResult;
  native: EngineResult;
  memory: MemoryResult;
  /** The isolate as the platform counts it (JS heap + ArrayBuffers + WASM), through each phase. */
  isolate: IsolateResult;
  cache: CacheResult;
  batch: BatchResult;
}

interface Generation {
  ttftMs: number;
  prefillMs: number;
  stepMs: number[];
  wasmBytes: number;
}

export async function benchModel(folder: string, weightBytes: number, plan: SpeedPlan, log: (line: string) => void): Promise<ModelResult> {
  log(`${folder}: isolate memory through load, generations and mixed requests (own workerd)…`);
  const isolate = await benchIsolate(folder, plan);
  log(`${folder}: mixed requests answered ${Object.entries(isolate.mixedStatuses).map(([status, n]) => `${n} × HTTP ${status}`).join(", ")}`);
  log(`${folder}: our Worker in workerd…`);
  const { ours, memory, cache, plainWorkerd, batch } = await benchWorker(folder, weightBytes, plan);
  const dir = join(BENCH_DIR, plainFolder(folder));
  log(`${folder}: plain onnxruntime-web loop (Node, WASM, 1 thread)…`);
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.logLevel = "error";
  const web = await loadPlain(ortWeb as unknown as OrtPackage, dir, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const plainWeb = await measurePlain(ortWeb as unknown as OrtPackage, web, plan);
  await web.session.release();
  log(`${folder}: onnxruntime-node (native, 1 intra-op thread)…`);
  const nativeOptions = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" as const, logSeverityLevel: 3 as const };
  const nat = await loadPlain(ortNode as unknown as OrtPackage, dir, nativeOptions, true);
  const native = await measurePlain(ortNode as unknown as OrtPackage, nat, plan);
  await nat.session.release();
  return { ours, plainWorkerd, plainWeb, native, memory, isolate, cache, batch };
}

/** A fresh workerd per model, so memory figures start from an empty isolate. */
async function benchWorker(model: string, weightBytes: number, plan: SpeedPlan): Promise<{ ours: EngineResult; memory: MemoryResult; cache: CacheResult; plainWorkerd: EngineResult; batch: BatchResult }> {
  const worker = await startBenchWorker(BENCH_DIR);
  try {
    const rssIdle = (await worker.rss()).current;
    const load = await worker.call<{ loadMs: number; wasmBytes: number }>("/load", { model });
    // Memory first: load + one generation of plan.memoryTokens tokens from a short prompt.
    const memoryRun = await worker.call<Generation>("/generate", { model, promptTokens: 8, newTokens: plan.memoryTokens });
    const memory: MemoryResult = {
      weightBytes,
      wasmAfterLoad: load.wasmBytes,
      wasmPeak: memoryRun.wasmBytes,
      rssIdle,
      rssPeak: (await worker.rss()).peak,
      generatedTokens: plan.memoryTokens,
    };
    const generate = (promptTokens: number, newTokens: number) => worker.call<Generation>("/generate", { model, promptTokens, newTokens });
    const first = await generate(plan.prefillTokens, 1);
    const decodeMs: Record<number, number> = {};
    for (const context of plan.contexts) decodeMs[context] = median((await generate(context, plan.decodeSteps + 1)).stepMs);
    const batched = (rows: number) => worker.call<{ tokensPerSecond: number }>("/batch", { model, rows, newTokens: plan.batchTokens });
    await batched(1); // warm-up
    const batch: BatchResult = {
      rows: plan.batchRows,
      singleTokensPerSecond: (await batched(1)).tokensPerSecond,
      batchedTokensPerSecond: (await batched(plan.batchRows)).tokensPerSecond,
    };
    const cache = await worker.call<CacheResult>("/cache", { model, promptTokens: plan.prefixTokens });
    const plainWorkerd = await worker.call<EngineResult>("/plain", { model: plainFolder(model), plan });
    return { ours: { coldStartMs: load.loadMs, prefillMs: first.prefillMs, ttftMs: first.ttftMs, decodeMs }, memory, cache, plainWorkerd, batch };
  } finally {
    await worker.close();
  }
}
