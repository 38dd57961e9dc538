// One model per isolate, loaded lazily on first use and reused. A failed load is remembered only
// for /health: the next request tries again, so fixing the files fixes the Worker without a restart.
import { loadConfig, type ConfigVars } from "../config";
import { PrefixCache } from "../cache/prefix-cache";
import { BatchScheduler } from "../generation/scheduler";
import type { ModelManifest } from "../model/manifest";
import { modelFiles } from "../model/source";
import { parseManifest, verifyFile } from "../model/verify";
import { ModelSession } from "./model-session";
import { createSession } from "./ort";

export interface LoadedModel {
  spec: string;
  manifest: ModelManifest;
  session: ModelSession;
  /** The only user of session.forward: batches every request's sequences. */
  scheduler: BatchScheduler;
  loadMs: number;
}

export type ModelStatus =
  | { state: "idle" }
  | { state: "loading"; spec: string }
  | { state: "ready"; spec: string; model: LoadedModel }
  | { state: "failed"; spec: string; reason: string };

export class ModelUnavailableError extends Error {
  override name = "ModelUnavailableError";
}

let current: { spec: string; promise: Promise<LoadedModel> } | null = null;
let status: ModelStatus = { state: "idle" };

export function modelStatus(): ModelStatus {
  return status;
}

/** The loaded model for `spec`, loading it (or retrying a failed load) if needed. */
export function getModel(spec: string, env: Record<string, unknown>): Promise<LoadedModel> {
  const promise = current?.spec === spec ? current.promise : startLoading(spec, env);
  return promise.catch((error: unknown) => {
    throw new ModelUnavailableError(error instanceof Error ? error.message : String(error));
  });
}

function startLoading(spec: string, env: Record<string, unknown>): Promise<LoadedModel> {
  const previous = current;
  const promise = (async () => {
    // Only one model lives in the isolate: WASM memory never shrinks, so release before loading.
    if (previous) await previous.promise.then((m) => m.session.release(), () => undefined);
    return loadModel(spec, env);
  })();
  current = { spec, promise };
  status = { state: "loading", spec };
  promise.then(
    (model) => {
      if (current?.promise === promise) status = { state: "ready", spec, model };
    },
    (error: unknown) => {
      if (current?.promise !== promise) return;
      current = null; // drop the failed promise so the next request retries
      status = { state: "failed", spec, reason: error instanceof Error ? error.message : String(error) };
    },
  );
  return promise;
}

async function loadModel(spec: string, env: Record<string, unknown>): Promise<LoadedModel> {
  const started = Date.now();
  const files = modelFiles(spec, env);
  const manifest = parseManifest(await files.read("manifest.json"), files.location);
  const graphEntry = manifest.files.find((f) => f.role === "graph")!;
  const graph = await files.read(graphEntry.path);
  await verifyFile(graph, graphEntry, files.location);
  const externalData: { path: string; data: Uint8Array }[] = [];
  for (const entry of manifest.files.filter((f) => f.role === "weights")) {
    const data = await files.read(entry.path);
    await verifyFile(data, entry, files.location);
    externalData.push({ path: entry.path, data });
  }
  let session;
  try {
    session = await createSession(graph, externalData);
  } catch (error) {
    throw new Error(`${files.location}: onnxruntime could not load the model: ${error instanceof Error ? error.message : String(error)}`);
  }
  externalData.length = 0; // the session holds its own copy in WASM memory
  const missing = manifest.io.inputs.concat(manifest.io.outputs).filter(
    (name) => !session.inputNames.includes(name) && !session.outputNames.includes(name),
  );
  const expectedPast = Array.from({ length: manifest.architecture.n_layer }, (_, i) => `past_key_values.${i}.key`);
  missing.push(...expectedPast.filter((name) => !session.inputNames.includes(name)));
  if (missing.length > 0) {
    await session.release();
    throw new Error(`${files.location}: the ONNX graph does not match its manifest (missing ${missing.join(", ")})`);
  }
  const modelSession = new ModelSession(manifest, session);
  const { maxBatchSize, maxQueuedRequests, prefixCacheBytes } = loadConfig(env as ConfigVars).limits;
  const prefixCache = prefixCacheBytes > 0 ? new PrefixCache(prefixCacheBytes) : null;
  const scheduler = new BatchScheduler(modelSession.forward, { maxBatchRows: maxBatchSize, maxWaiting: maxQueuedRequests }, {
    kvPadding: manifest.io.kv_padding ?? "left",
    prefixCache,
  });
  return { spec, manifest, session: modelSession, scheduler, loadMs: Date.now() - started };
}
