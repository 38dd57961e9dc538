// Measures one model on five engines, same ONNX file: our Worker in workerd; the plain
// onnxruntime-web loop in that workerd, in Node with explicit WASM bounds checks (a child process
// with --disable-wasm-trap-handler) and in Node as is (WASM, 1 thread); onnxruntime-node (native,
// 1 intra-op thread). Speed repetitions are interleaved across all five (interleave.ts).
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { BENCH_DIR, plainFolder } from "./models.js";
import { loadPlain } from "./plain-load.js";
import { plainGreedy, type OrtPackage, type PlainLoopModel } from "./plain-loop.js";
import { benchPrompt, type EngineResult, type SpeedPlan } from "./plan.js";
import { interleavedSpeed, type EngineRunner } from "./interleave.js";
import { benchLookup, type LookupResult } from "./lookup.js";
import { startBenchWorker, type BenchWorker } from "./workerd.js";
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
  /** The plain loop inside workerd: our serving overhead, on the same runtime (the primary yardstick). */
  plainWorkerd: EngineResult;
  /** The plain loop in Node with `--disable-wasm-trap-handler`: explicit bounds checks, as in workerd. */
  plainNodeChecked: EngineResult;
  /** The plain loop in Node as Node runs it by default (the trap handler elides bounds checks). */
  plainWeb: EngineResult;
  native: EngineResult;
  memory: MemoryResult;
  /** The isolate as the platform counts it (JS heap + ArrayBuffers + WASM), through each phase. */
  isolate: IsolateResult;
  cache: CacheResult;
  batch: BatchResult;
  lookup: LookupResult[];
}

interface Generation {
  ttftMs: number;
  prefillMs: number;
  stepMs: number[];
  wasmBytes: number;
}

const NATIVE_OPTIONS = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" as const, logSeverityLevel: 3 as const };

export async function benchModel(folder: string, weightBytes: number, plan: SpeedPlan, log: (line: string) => void): Promise<ModelResult> {
  log(`${folder}: isolate memory through load, generations and mixed requests (own workerd)…`);
  const isolate = await benchIsolate(folder, plan);
  log(`${folder}: mixed requests answered ${Object.entries(isolate.mixedStatuses).map(([status, n]) => `${n} × HTTP ${status}`).join(", ")}`);
  // A fresh workerd per model, so memory figures start from an empty isolate.
  const worker = await startBenchWorker(BENCH_DIR);
  const dir = join(BENCH_DIR, plainFolder(folder));
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.logLevel = "error";
  let child: PlainChild | null = null;
  const sessions: { release(): Promise<void> }[] = [];
  try {
    log(`${folder}: our Worker in workerd: load and memory…`);
    const { ours, memory } = await loadOurs(worker, folder, weightBytes, plan);
    log(`${folder}: loading the plain loops (workerd; Node with and without the WASM trap handler; native)…`);
    const plainModel = plainFolder(folder);
    const plainWorkerd = await worker.call<{ coldStartMs: number }>("/plain-load", { model: plainModel });
    child = await startPlainChild(dir);
    const web = await loadPlain(ortWeb as unknown as OrtPackage, dir, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const nat = await loadPlain(ortNode as unknown as OrtPackage, dir, NATIVE_OPTIONS, true);
    sessions.push(web.session, nat.session);
    const inProcess = (ort: OrtPackage, model: PlainLoopModel): EngineRunner => ({
      coldStartMs: model.coldStartMs,
      generate: async (promptTokens, newTokens) => plainRun(await plainGreedy(ort, model, benchPrompt(promptTokens, model.manifest.architecture.vocab_size), newTokens)),
    });
    const nodeChecked = child;
    log(`${folder}: speed, ${plan.reps} interleaved repetitions…`);
    const speed = await interleavedSpeed(
      {
        ours,
        plainWorkerd: {
          coldStartMs: plainWorkerd.coldStartMs,
          generate: async (promptTokens, newTokens) => plainRun((await worker.call<{ stepMs: number[] }>("/plain-steps", { model: plainModel, promptTokens, newTokens })).stepMs),
        },
        plainNodeChecked: { coldStartMs: nodeChecked.coldStartMs, generate: async (promptTokens, newTokens) => plainRun(await nodeChecked.steps(promptTokens, newTokens)) },
        plainWeb: inProcess(ortWeb as unknown as OrtPackage, web),
        native: inProcess(ortNode as unknown as OrtPackage, nat),
      },
      plan,
      log,
    );
    await worker.call("/plain-release", { model: plainModel });
    log(`${folder}: batching and caching in our Worker…`);
    const batched = (rows: number) => worker.call<{ tokensPerSecond: number }>("/batch", { model: folder, rows, newTokens: plan.batchTokens });
    await batched(1); // warm-up
    const batch: BatchResult = {
      rows: plan.batchRows,
      singleTokensPerSecond: (await batched(1)).tokensPerSecond,
      batchedTokensPerSecond: (await batched(plan.batchRows)).tokensPerSecond,
    };
    const cache = await worker.call<CacheResult>("/cache", { model: folder, promptTokens: plan.prefixTokens });
    log(`${folder}: prompt lookup…`);
    const lookup = await benchLookup(worker, folder, plan.lookupTokens, plan.reps);
    return { ...speed, memory, isolate, cache, batch, lookup };
  } finally {
    child?.close();
    for (const session of sessions) await session.release();
    await worker.close();
  }
}

/** Our Worker loads the model, then generates plan.memoryTokens tokens: the memory figures. */
async function loadOurs(worker: BenchWorker, model: string, weightBytes: number, plan: SpeedPlan): Promise<{ ours: EngineRunner; memory: MemoryResult }> {
  const rssIdle = (await worker.rss()).current;
  const load = await worker.call<{ loadMs: number; wasmBytes: number }>("/load", { model });
  const memoryRun = await worker.call<Generation>("/generate", { model, promptTokens: 8, newTokens: plan.memoryTokens });
  const memory: MemoryResult = {
    weightBytes,
    wasmAfterLoad: load.wasmBytes,
    wasmPeak: memoryRun.wasmBytes,
    rssIdle,
    rssPeak: (await worker.rss()).peak,
    generatedTokens: plan.memoryTokens,
  };
  const ours: EngineRunner = { coldStartMs: load.loadMs, generate: (promptTokens, newTokens) => worker.call<Generation>("/generate", { model, promptTokens, newTokens }) };
  return { ours, memory };
}

/** The plain loop's step times: step 0 is the prefill (its time to first token). */
const plainRun = (steps: number[]) => ({ ttftMs: steps[0], prefillMs: steps[0], stepMs: steps.slice(1) });

interface PlainChild {
  coldStartMs: number;
  steps(promptTokens: number, newTokens: number): Promise<number[]>;
  close(): void;
}

/** The plain onnxruntime-web loop in a child Node with explicit WASM bounds checks (plain-child.ts). */
async function startPlainChild(dir: string): Promise<PlainChild> {
  const child = spawn(process.execPath, ["--disable-wasm-trap-handler", "--import", "tsx", resolve(import.meta.dirname, "plain-child.ts"), dir], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async <T>(): Promise<T> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the plain-loop child exited (code ${child.exitCode})`);
    return JSON.parse(value as string) as T;
  };
  const { coldStartMs } = await next<{ coldStartMs: number }>();
  return {
    coldStartMs,
    async steps(promptTokens, newTokens) {
      child.stdin!.write(`${JSON.stringify({ promptTokens, newTokens })}\n`);
      return (await next<{ stepMs: number[] }>()).stepMs;
    },
    close: () => void child.kill(),
  };
}
