// Bench Worker side: the issue-12 prototype load (src/engine/stream-weights.ts): the graph read
// whole (it is small), the weights streamed from the model host in 1 MiB chunks while hashing, each
// chunk dropped once onnxruntime has copied every initializer in it. Nothing else of the serving
// path: the figure to compare is the load peak against /load (the registry's read-whole path).
import type { ModelManifest } from "../../src/model/manifest";
import { externalRanges } from "../../src/engine/external-ranges";
import { streamWeights } from "../../src/engine/stream-weights";
import { createSession, type ort } from "../../src/engine/ort";
import { growPlannedHeapNow } from "../../src/engine/wasm-heap";

/** ORT's WASM memory size as read in the isolate (worker.ts tracks its memories). */
let wasmBytes: () => number = () => NaN;
export function readWasmWith(read: () => number): void {
  wasmBytes = read;
}

/** Kept alive like the registry keeps its model: the figures after load include the session. */
let session: ort.InferenceSession | null = null;

export async function loadStreamed(origin: string, model: string) {
  const started = performance.now();
  const get = async (file: string) => {
    const response = await fetch(`${origin}/${model}/${file}`);
    if (!response.ok || !response.body) throw new Error(`${file}: HTTP ${response.status}`);
    return response;
  };
  const manifest = (await (await get("manifest.json")).json()) as ModelManifest;
  // These variants compare ways of loading one graph; a model with its MLPs in the kernel has one per block.
  if (manifest.mlp) throw new Error(`${model}: load variants need a one-graph model (convert it with --mlp graph)`);
  const graphEntry = manifest.files.find((f) => f.role === "graph")!;
  const graph = new Uint8Array(await (await get(graphEntry.path)).arrayBuffer());
  const ranges = externalRanges(graph);
  const externalData = [];
  for (const entry of manifest.files.filter((f) => f.role === "weights")) {
    externalData.push({ path: entry.path, data: await streamWeights((await get(entry.path)).body!, entry, ranges, "bench") });
  }
  const streamedMs = performance.now() - started;
  // The peak inside ORT's synchronous session creation, where the inspector cannot sample:
  // chunks still held + WASM heap, at every initializer read.
  let insideCreatePeak = 0;
  for (const { data } of externalData) data.onRead = (live) => (insideCreatePeak = Math.max(insideCreatePeak, live + wasmBytes()));
  session = await createSession(graph, externalData);
  let droppedEarly = 0;
  for (const { data } of externalData) {
    droppedEarly += data.droppedBytes;
    data.release();
  }
  const grownAfterLoad = growPlannedHeapNow(); // 0 unless planned "after-load" (wasm-heap.ts)
  return { loadMs: performance.now() - started, streamedMs, insideCreatePeakMiB: +(insideCreatePeak / 2 ** 20).toFixed(1), ranges: ranges.length, droppedEarly, grownAfterLoad, inputs: session.inputNames.length };
}
