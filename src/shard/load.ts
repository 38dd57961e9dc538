// Loading shard <index> of the model at MODEL (issue 14): the front's manifest names the shard's
// folder, its block range and its manifest's sha256 (so a shard never serves another conversion's
// blocks), then the shard's own folder loads like any model folder: graphs checked, weights streamed
// into onnxruntime, the MLPs into their kernel when the shard was so converted (engine/layered-session.ts). A warm-up step at the last position checks the graph
// against the manifest before the shard answers its first step.
//
// The graph is per isolate, the rows per Durable Object instance: an instance that is reset (evicted,
// aborted) may come back in the same isolate, where onnxruntime's heap (which never shrinks) still
// holds the session; the new instance reuses it instead of loading the weights a second time beside
// it, and starts with no rows, as a fresh instance must.
import { loadGraphSession } from "../engine/layered-session";
import { ort, ortMemoryBytes } from "../engine/ort";
import type { ModelManifest } from "../model/manifest";
import { modelFiles } from "../model/source";
import { parseManifest, verifyFile } from "../model/verify";
import { ShardCore } from "./core";
import { shardForward, shardInfo, type ShardForward } from "./graph";

export interface ShardGraph {
  manifest: ModelManifest;
  forward: ShardForward;
  location: string;
  loadMs: number;
  /** The isolate's WebAssembly memory once the graph loaded and ran its warm-up step. */
  wasmBytes: number;
  /** Of it, the MLP kernel's (outside onnxruntime's heap; 0 when the MLPs are in the graph). */
  kernelBytes: number;
}

/** Who the new core is and the isolate it counts keys/values in (memory.ts). */
export interface CoreIdentity {
  /** The Durable Object's id. */
  instance: string;
  /** ISOLATE_MEMORY_BYTES (0: no byte limit) and the JS reserve: the front's figures. */
  isolateBytes: number;
  jsReserveBytes: number;
}

/** Loaded graphs of this isolate, by MODEL and index; a failed load is dropped so the next call retries. */
const graphs = new Map<string, Promise<ShardGraph>>();

/** A new instance's core (no rows) on the isolate's graph of shard `index`, loaded on first use. */
export async function openShardCore(spec: string, index: number, binding: (name: string) => unknown, identity: CoreIdentity): Promise<ShardCore> {
  const key = `${spec}#${index}`;
  let loading = graphs.get(key);
  if (!loading) {
    loading = loadShardGraph(spec, index, binding);
    graphs.set(key, loading);
    loading.catch(() => graphs.delete(key));
  }
  const { manifest, forward, loadMs, wasmBytes, kernelBytes } = await loading;
  const arch = manifest.architecture;
  const memory = { isolateBytes: identity.isolateBytes, jsReserveBytes: identity.jsReserveBytes, modelBytes: wasmBytes };
  const wasmNow = () => ortMemoryBytes() + kernelBytes;
  return new ShardCore(forward, { shard: manifest.shard!, heads: arch.n_head, width: arch.n_embd, positions: arch.n_positions, wasmBytes: wasmNow, loadMs, instance: identity.instance, memory });
}

/** `spec` is the front's MODEL ("r2:<prefix>", "assets:<dir>", "fetcher:<BINDING>/<dir>"). */
export async function loadShardGraph(spec: string, index: number, binding: (name: string) => unknown): Promise<ShardGraph> {
  const started = Date.now();
  const frontFiles = modelFiles(spec, binding);
  const front = parseManifest(await frontFiles.read("manifest.json"), frontFiles.location);
  const entry = front.shards?.[index];
  if (!entry) {
    throw new Error(`${frontFiles.location}/manifest.json ${front.shards ? `names ${front.shards.length} shard(s), not shard ${index}` : "is not a sharded model's (no shards): convert with --shards"}`);
  }
  const files = modelFiles(`${spec.replace(/\/+$/, "")}/${entry.path}`, binding);
  const bytes = await files.read("manifest.json");
  await verifyFile(bytes, { path: "manifest.json", bytes: bytes.byteLength, sha256: entry.manifest_sha256 }, files.location);
  const manifest = parseManifest(bytes, files.location);
  const shard = shardInfo(manifest, files.location);
  if (shard.index !== index || shard.layers.join() !== entry.layers.join()) {
    throw new Error(`${files.location}/manifest.json is shard ${shard.index} with blocks [${shard.layers}], the front names shard ${index} with blocks [${entry.layers}]`);
  }
  const session = await loadGraphSession(files, manifest);
  const arch = manifest.architecture;
  const forward = serialized(shardForward(session, ort.Tensor, manifest, files.location));
  try {
    // One position at the end of the context window: a graph whose width, heads or position table
    // disagree with the manifest fails here, at load, with the reason.
    const { hidden } = await forward({ batch: 1, seq: 1, hidden: new Float32Array(arch.n_embd).fill(0.5), attentionMask: [1], positionIds: [arch.n_positions - 1], past: null });
    if (hidden.some((x) => !Number.isFinite(x))) throw new Error("the warm-up step produced non-finite hidden states");
  } catch (error) {
    await session.release();
    throw new Error(`${files.location}: the shard's graph does not match its manifest (${error instanceof Error ? error.message : String(error)})`);
  }
  const kernelBytes = session.kernelBytes ?? 0;
  return { manifest, forward, location: files.location, loadMs: Date.now() - started, wasmBytes: ortMemoryBytes() + kernelBytes, kernelBytes };
}

/** One run at a time on the session, whichever instance's core asks (they may overlap in a reset). */
function serialized(forward: ShardForward): ShardForward {
  let queue: Promise<unknown> = Promise.resolve();
  return (input) => {
    const result = queue.then(() => forward(input));
    queue = result.catch(() => undefined);
    return result;
  };
}
