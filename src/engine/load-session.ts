// A model folder's graph and weights, verified, in an onnxruntime session: the part of loading
// every graph shares (the engine's whole model, a shard's blocks in src/shard, each graph of a
// model whose MLPs run in the kernel: ./layered-session).
import type { ManifestFile, ModelManifest } from "../model/manifest";
import type { ModelFiles } from "../model/source";
import { verifyFile } from "../model/verify";
import { externalRanges } from "./external-ranges";
import { createSession, type ort } from "./ort";
import { streamWeights, type ChunkedWeights } from "./stream-weights";

/** The manifest's one graph, with every weights file it lists. */
export async function loadSession(files: ModelFiles, manifest: ModelManifest): Promise<ort.InferenceSession> {
  const graphEntry = manifest.files.find((f) => f.role === "graph");
  if (!graphEntry) throw new Error(`${files.location}/manifest.json lists no graph`);
  return loadGraph(files, graphEntry, manifest.files.filter((f) => f.role === "weights"));
}

/** One graph and the weights files it reads, verified, in a session of its own. */
export async function loadGraph(files: ModelFiles, graphEntry: ManifestFile, weightEntries: ManifestFile[]): Promise<ort.InferenceSession> {
  const graph = await files.read(graphEntry.path);
  await verifyFile(graph, graphEntry, files.location);
  // Weights are streamed in chunks, hashed as they arrive, and each chunk is dropped as soon as
  // onnxruntime has copied the initializers in it (stream-weights.ts): the isolate never holds the
  // weights twice, as it did when files were read whole before ORT copied them into WASM.
  const ranges = externalRanges(graph);
  const externalData: { path: string; data: ChunkedWeights }[] = [];
  for (const entry of weightEntries) {
    const data = await streamWeights(await files.stream(entry.path), entry, ranges, files.location);
    externalData.push({ path: entry.path, data });
  }
  try {
    return await createSession(graph, externalData);
  } catch (error) {
    throw new Error(`${files.location}: onnxruntime could not load ${graphEntry.path}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    for (const { data } of externalData) data.release(); // the session holds its own copy in WASM memory
  }
}
