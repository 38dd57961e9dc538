// Writing a model whose blocks' MLPs run in the engine's int8 kernel (issue 13; layer-graphs.ts
// says how the graph is cut): n_layer + 1 graphs with their weights, the MLP file and the manifest.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ManifestFile, ModelManifest } from "../../src/model/manifest.js";
import { writeManifest, type ManifestParts } from "../lib/manifest.js";
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import { writeSplitFile, removeSplitFile } from "./embedding-file.js";
import { graphInputNames, graphOutputNames } from "./gpt2-graph.js";
import type { int8Format } from "./int8-format.js";
import { buildFinalNormGraph, buildLayerGraph, layerGraphFile } from "./layer-graphs.js";
import { encodeMlpFile } from "./mlp-file.js";
import { writeOnnxWithExternalData, type OnnxModelOptions } from "./write-model.js";

export const MLP_FILE = "mlp.int8";

export interface LayeredModel {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /** A fresh weight format per graph: a format keeps its shared constants in the graph it built first. */
  format: () => ReturnType<typeof int8Format>;
  outDir: string;
  embedding: ManifestFile;
  onnx: OnnxModelOptions;
  manifest: Omit<ManifestParts, "io" | "files" | "mlp">;
}

export async function writeLayeredModel(model: LayeredModel): Promise<ModelManifest> {
  const { config, weights, outDir } = model;
  const { n_layer: L, n_embd: E, n_inner: I } = config;
  const files: ManifestFile[] = [];
  for (let index = 0; index <= L; index++) {
    const graph = index < L ? buildLayerGraph(config, weights, model.format(), index) : buildFinalNormGraph(config, weights);
    const written = await writeOnnxWithExternalData(graph, outDir, { ...model.onnx, graphFile: layerGraphFile(index) });
    files.push({ ...written.graph, role: "graph" }, { ...written.data, role: "weights" });
  }
  await removeLayerFiles(outDir, L + 1); // graphs of an earlier conversion with more layers

  // The MLPs' weights quantized exactly as the one-graph model's c_fc / c_proj (format.linear).
  const format = model.format();
  const layers = weights.layers.map((w, l) => ({
    fc: { ...format.quantizeLinear(`h.${l}.mlp.c_fc`, w.mlpFc.weight, E, I), bias: w.mlpFc.bias },
    proj: { ...format.quantizeLinear(`h.${l}.mlp.c_proj`, w.mlpProj.weight, I, E), bias: w.mlpProj.bias },
  }));
  const mlpFile = await writeSplitFile(outDir, MLP_FILE, encodeMlpFile(layers, E, I), model.onnx.maxFileBytes);
  return writeManifest(outDir, {
    ...model.manifest,
    io: { inputs: graphInputNames(L, "external"), outputs: graphOutputNames(L, "gqa", "external"), kv_padding: "right" },
    files: [...files, { ...mlpFile, role: "mlp" }, model.embedding],
    mlp: { inner: I, outliers: layers.map(({ fc, proj }) => ({ fc: [...fc.outliers], proj: [...proj.outliers] })) },
  });
}

/** Graphs `layer-NN.onnx` (with their data, whole or in parts) from index `keep` on; keep 0 = all, and the MLP file. */
export async function removeLayerFiles(outDir: string, keep: number): Promise<void> {
  for (const name of await readdir(outDir)) {
    const match = /^layer-(\d+)\.onnx(\.data(\.part-\d+)?)?$/.exec(name);
    if (match && Number(match[1]) >= keep) await rm(join(outDir, name), { force: true });
  }
  if (keep === 0) await removeSplitFile(outDir, MLP_FILE);
}
