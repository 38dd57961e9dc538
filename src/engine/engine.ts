// The engine: one model's verified files in an onnxruntime session, its KV layout, its prefix cache
// and the scheduler that batches every request's sequences through it. Everything above the
// engine hands it a plan (GenerationJob) and gets tokens back; nothing above it sees ONNX or KV.
import type { ModelManifest } from "../model/manifest";
import type { ModelFiles } from "../model/source";
import { parseManifest } from "../model/verify";
import { openHead, type TokenHead } from "./head";
import { kvLayoutFor, type KvLayout } from "./kv-layout";
import { kvBudget, type KvBudget } from "./kv-budget";
import { growPlannedHeapNow, planWasmHeap } from "./wasm-heap";
import { loadGraphSession } from "./layered-session";
import { ortMemoryBytes } from "./ort";
import { PrefixCache } from "./prefix-cache";
import { BatchScheduler, type GenerationJob, type JobResult } from "./scheduler";
import { ModelSession } from "./session";
import type { ShardStatus } from "./shard-protocol";

export interface EngineLimits {
  /** Most sequences in one batched step. 1 = no batching. */
  maxBatchRows: number;
  /** Most requests waiting for a slot; beyond it submit() throws SchedulerBusyError. */
  maxWaiting: number;
  /** Bytes of prompt keys/values kept for reuse. 0 = no prefix cache. */
  prefixCacheBytes: number;
  /** The isolate's memory; keys/values are admitted by the bytes the loaded model leaves. 0 = rows only. */
  isolateMemoryBytes: number;
  /** Kept free for the JS heap. */
  jsReserveBytes: number;
}

export interface Engine {
  readonly manifest: ModelManifest;
  /** How long loading took (files, checks, session, warm-up step), ms. */
  readonly loadMs: number;
  submit(job: GenerationJob): Promise<JobResult>;
  /** Rows generating now and requests waiting for a slot. */
  activity(): { rows: number; waiting: number };
  /** The bytes keys/values may take (null: no byte budget, ISOLATE_MEMORY_BYTES=0). */
  readonly kvBudget: KvBudget | null;
  /** What the loaded model takes in the isolate (ORT's WASM heap after load). */
  readonly modelBytes: number;
  /** A sharded model's shards as they report themselves now, and steps that rebuilt lost rows. */
  shards?(): Promise<{ statuses: ShardStatus[]; recoveries: number }>;
  release(): Promise<void>;
}

export async function readManifest(files: ModelFiles): Promise<ModelManifest> {
  return parseManifest(await files.read("manifest.json"), files.location);
}

export interface OpenedModel {
  manifest: ModelManifest;
  session: ModelSession;
  layout: KvLayout;
  /** WebAssembly memory outside onnxruntime's heap (the kernels': the LM head's table, the MLPs). */
  headBytes: number;
}

/**
 * The model in `files` verified, in an onnxruntime session, warmed up (its manifest already read,
 * or read here). The engine's scheduler is its only user in the Worker; fidelity tests and the
 * benchmark drive `session.forward` directly.
 */
export async function openModel(files: ModelFiles, known?: ModelManifest): Promise<OpenedModel> {
  const manifest = known ?? (await readManifest(files));
  const session = await loadGraphSession(files, manifest);
  // After the session, so the graph's file copies above are already garbage at the kernel's peak.
  let head: TokenHead;
  try {
    head = await openHead(files, manifest);
  } catch (error) {
    await session.release();
    throw error;
  }
  const layout = kvLayoutFor(manifest);
  const missing = ModelSession.missingNames(session, manifest, layout, head);
  if (missing.length > 0) {
    await session.release();
    throw new Error(`${files.location}: the ONNX graph does not match its manifest (missing ${missing.join(", ")})`);
  }
  const modelSession = new ModelSession(manifest, session, layout, head);
  try {
    await warmUp(modelSession, manifest);
  } catch (error) {
    await modelSession.release();
    throw new Error(`${files.location}: the ONNX graph does not match its manifest (${messageOf(error)})`);
  }
  return { manifest, session: modelSession, layout, headBytes: head.memoryBytes + (session.kernelBytes ?? 0) };
}

/** The model in `files`, opened, with its prefix cache and scheduler: ready for requests. */
export async function loadEngine(files: ModelFiles, limits: EngineLimits, known?: ModelManifest): Promise<Engine> {
  const started = Date.now();
  const { manifest, session, layout, headBytes } = await openModel(files, known);
  // What the model takes is measured, not estimated: ORT's WASM heap after loading (weights, graph,
  // runtime; it never shrinks), or — before ORT's memory is known — the files' size; plus the
  // kernels' own memory (the LM head's, the MLPs').
  const ortBytes = ortMemoryBytes() || manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  const modelBytes = ortBytes + headBytes;
  const budget = limits.isolateMemoryBytes > 0
    ? kvBudget(manifest, modelBytes, { isolateBytes: limits.isolateMemoryBytes, jsReserveBytes: limits.jsReserveBytes, prefixCacheBytes: limits.prefixCacheBytes })
    : null;
  if (budget) {
    // Size ORT's heap once for the model plus the keys/values the budget admits, instead of
    // emscripten's ×1.2 steps (a heap that never shrinks, up to a fifth of it never used). After
    // loading, not before: then the weights streamed in are gone and nothing coexists with it.
    planWasmHeap(ortBytes + budget.wasmBytes, "after-load");
    growPlannedHeapNow();
  }
  const prefixCacheBytes = budget ? budget.prefixCacheBytes : limits.prefixCacheBytes;
  const prefixCache = prefixCacheBytes > 0 ? new PrefixCache(prefixCacheBytes) : null;
  const promptLookup = session.returnsEveryPosition && layout.name === "right-padded-append";
  const scheduler = new BatchScheduler(session.forward, layout, { ...limits, budget }, { prefixCache, promptLookup });
  return {
    manifest,
    kvBudget: budget,
    modelBytes,
    loadMs: Date.now() - started,
    submit: (job) => scheduler.submit(job),
    activity: () => scheduler.activity,
    // Requests still running (another model was asked for meanwhile) finish first.
    release: async () => {
      await scheduler.idle();
      await session.release();
    },
  };
}

/**
 * One token at the last position of the context window before the model is declared ready: a
 * manifest that disagrees with its graph (heads, width, vocabulary, a window longer than the
 * position table) fails here, at load, with the reason — not as a 500 on every request later.
 */
async function warmUp(session: ModelSession, manifest: ModelManifest): Promise<void> {
  const arch = manifest.architecture;
  const { logits, kv } = await session.forward({
    batch: 1, seq: 1, inputIds: [manifest.tokenizer.eos_token_id], attentionMask: [1], positionIds: [arch.n_positions - 1], past: null,
  });
  // (the session checks every step's key/value shapes against the manifest itself)
  if (logits[0]?.length !== arch.vocab_size) throw new Error(`logits have ${logits[0]?.length} entries, manifest says vocab_size ${arch.vocab_size}`);
  if (kv.positions !== 1) throw new Error(`a one-token step returned ${kv.positions} key/value positions`);
  if (logits[0].some((x) => !Number.isFinite(x))) throw new Error("the warm-up step produced non-finite logits");
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
