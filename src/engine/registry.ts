// One model per isolate, loaded lazily on first use and reused. Its manifest (a few hundred bytes)
// can be read without loading the model, so requests the response cache answers never wait for
// weights. A failed load is retried — fixing the files fixes the Worker without a restart — but
// after a bounded exponential backoff, so a broken deployment is not re-read and re-hashed by
// every request; until the next try, requests fail at once with the last reason.
import type { ModelManifest } from "../model/manifest";
import type { ModelFiles } from "../model/source";
import { loadEngine, readManifest, type Engine, type EngineLimits } from "./engine";
import { loadShardedEngine, type ShardedEngineOptions } from "./sharded-engine";
import type { ShardConnector } from "./sharded-forward";

export class ModelUnavailableError extends Error {
  override name = "ModelUnavailableError";
  /** Epoch ms of the next load attempt. */
  constructor(message: string, readonly retryAt: number) {
    super(message);
  }
}

export interface RetryPolicy {
  /** Wait after the first failure, doubling per failure up to maxMs. 0 = retry on every request. */
  baseMs: number;
  maxMs: number;
}

export interface ModelHandle {
  readonly spec: string;
  /** The manifest only (the engine's, once loaded): enough to plan a request. */
  manifest(): Promise<ModelManifest>;
  /** The loaded engine, loading it (or retrying after the backoff) if needed. */
  engine(): Promise<Engine>;
}

interface Slot {
  spec: string;
  /** The files of the current attempt: the manifest and weights are read through one source (it
   * learns split files from the manifest it read). Dropped with a failure. */
  files: ModelFiles | null;
  manifest: Promise<ModelManifest> | null;
  engine: Promise<Engine> | null;
  ready: Engine | null;
  failure: { reason: string; retryAt: number; attempts: number } | null;
}

let current: Slot | null = null;

/** Where a sharded model's shards are (its front's manifest lists them): the Worker's bindings. */
export interface ShardAccess extends ShardedEngineOptions {
  /** A stub for shard i of `count`; throws, saying what to bind, when the Worker has none. */
  connect(index: number, count: number): ReturnType<ShardConnector>;
}

export function modelHandle(spec: string, files: () => ModelFiles, limits: EngineLimits, retry: RetryPolicy, shards?: ShardAccess): ModelHandle {
  const slot = (): Slot => {
    if (current?.spec !== spec) {
      // Only one model lives in the isolate: WASM memory never shrinks, so release before loading.
      current?.engine?.then((engine) => engine.release(), () => undefined);
      current = { spec, files: null, manifest: null, engine: null, ready: null, failure: null };
    }
    return current;
  };
  /** Within the backoff after a failure: the error to answer with at once. */
  const blocked = (s: Slot) =>
    s.failure && Date.now() < s.failure.retryAt ? new ModelUnavailableError(s.failure.reason, s.failure.retryAt) : null;
  /** `promise`, with a failure remembered (and the backoff grown) and `forget` run on it. */
  const track = <T>(s: Slot, promise: Promise<T>, forget: () => void): Promise<T> =>
    promise.catch((error: unknown) => {
      forget();
      if (error instanceof ModelUnavailableError) throw error; // already counted (the manifest's failure)
      const attempts = (s.failure?.attempts ?? 0) + 1;
      const wait = retry.baseMs > 0 ? Math.min(retry.baseMs * 2 ** (attempts - 1), retry.maxMs) : 0;
      s.failure = { reason: error instanceof Error ? error.message : String(error), retryAt: Date.now() + wait, attempts };
      throw new ModelUnavailableError(s.failure.reason, s.failure.retryAt);
    });
  const manifestOf = (s: Slot): Promise<ModelManifest> => {
    if (s.ready) return Promise.resolve(s.ready.manifest);
    if (s.manifest) return s.manifest;
    const error = blocked(s);
    if (error) return Promise.reject(error);
    s.manifest = track(s, (async () => readManifest((s.files ??= files())))(), () => ((s.manifest = null), (s.files = null)));
    return s.manifest;
  };
  return {
    spec,
    manifest: () => manifestOf(slot()),
    engine() {
      const s = slot();
      if (s.engine) return s.engine;
      const error = blocked(s);
      if (error) return Promise.reject(error);
      const loading = manifestOf(s).then((manifest) => {
        const source = (s.files ??= files());
        if (!manifest.shards) return loadEngine(source, limits, manifest);
        if (!shards) throw new Error(`${source.location}: a sharded model's front, and this Worker has no shard bindings`);
        const count = manifest.shards.length;
        return loadShardedEngine(source, manifest, limits, (index) => shards.connect(index, count), shards);
      });
      // Drop the manifest with a failed load too: the fix may be a new manifest.
      s.engine = track(s, loading, () => ((s.engine = null), (s.manifest = null), (s.files = null)));
      s.engine.then((engine) => ((s.ready = engine), (s.failure = null)), () => undefined);
      return s.engine;
    },
  };
}
