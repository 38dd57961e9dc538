// Loading a model folder from disk for the plain loop in Node (onnxruntime-web or -node).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { InferenceSession } from "onnxruntime-common";
import type { ModelManifest } from "../../src/model/manifest.js";
import type { OrtPackage, PlainLoopModel } from "./plain-loop.js";

/**
 * Session creation from bytes already in memory is the cold start measured. onnxruntime-web takes
 * the external data as bytes; onnxruntime-node (`fromPath`) reads it from disk next to the graph.
 */
export async function loadPlain(ort: OrtPackage, dir: string, options: InferenceSession.SessionOptions, fromPath = false): Promise<PlainLoopModel> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
  const graphPath = join(dir, manifest.files.find((f) => f.role === "graph")!.path);
  const graph = new Uint8Array(await readFile(graphPath));
  const weights = manifest.files.find((f) => f.role === "weights")!;
  const data = fromPath ? new Uint8Array(0) : new Uint8Array(await readFile(join(dir, weights.path)));
  const started = performance.now();
  const session = fromPath
    ? await ort.InferenceSession.create(graphPath, options)
    : await ort.InferenceSession.create(graph, { ...options, externalData: [{ path: weights.path, data }] });
  return { manifest, session, coldStartMs: performance.now() - started };
}

