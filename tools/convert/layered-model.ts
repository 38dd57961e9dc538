// Writing a model whose blocks' MLPs run in the engine's int8 kernel (issue 13; layer-graphs.ts
// says how the graph is cut): a graph per block (and ln_f's) with their weights, and the MLP file —
// for a whole model (n_layer + 1 graphs, with its manifest) or for one shard's blocks (shards.ts).
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ManifestFile, ManifestMlp, ModelManifest } from "../../src/model/manifest.js";
import { writeManifest, type ManifestParts } from "../lib/manifest.js";
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import { writeSplitFile, removeSplitFile } from "./embedding-file.js";
import { graphInputNames, graphOutputNames } from "./gpt2-graph.js";
import type { int8Format } from "./int8-format.js";
import { buildFinalNormGraph, buildLayerGraph, layerGraphFile } from "./layer-graphs.js";
import { encodeMlpFile } from "./mlp-file.js";
import { writeOnnxWithExternalData, type OnnxModelOptions } from "./write-model.js";

export const MLP_FILE = "mlp.int8";

export interface LayeredGraphs {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /** A fresh weight format per graph: a format keeps its shared constants in the graph it built first. */
  format: () => ReturnType<typeof int8Format>;
  outDir: string;
  onnx: OnnxModelOptions;
  /** Blocks [from, to) (a shard's, or all); ln_f's graph too when `to` is n_layer. */
  range: [number, number];
}

/** The range's graphs (block l's named by its global number) and its MLP file, for a manifest. */
export async function writeLayeredGraphs(model: LayeredGraphs): Promise<{ files: ManifestFile[]; mlp: ManifestMlp }> {
  const { config, weights, outDir } = model;
  const { n_layer: L, n_embd: E, n_inner: I } = config;
  const [from, to] = model.range;
  const indices = Array.from({ length: to - from }, (_, i) => from + i);
  if (to === L) indices.push(L);
  const files: ManifestFile[] = [];
  for (const index of indices) {
    const graph = index < L ? buildLayerGraph(config, weights, model.format(), index) : buildFinalNormGraph(config, weights);
    const written = await writeOnnxWithExternalData(graph, outDir, { ...model.onnx, graphFile: layerGraphFile(index) });
    files.push({ ...written.graph, role: "graph" }, { ...written.data, role: "weights" });
  }
  await removeLayerFiles(outDir, new Set(indices.map(layerGraphFile))); // an earlier conversion's other graphs

  // The MLPs' weights quantized exactly as the one-graph model's c_fc / c_proj (format.linear).
  const format = model.format();
  const layers = indices.filter((l) => l < L).map((l) => {
    const w = weights.layers[l];
    return {
      fc: { ...format.quantizeLinear(`h.${l}.mlp.c_fc`, w.mlpFc.weight, E, I), bias: w.mlpFc.bias },
      proj: { ...format.quantizeLinear(`h.${l}.mlp.c_proj`, w.mlpProj.weight, I, E), bias: w.mlpProj.bias },
    };
  });
  const mlpFile = await writeSplitFile(outDir, MLP_FILE, encodeMlpFile(layers, E, I), model.onnx.maxFileBytes);
  return {
    files: [...files, { ...mlpFile, role: "mlp" }],
    mlp: { inner: I, outliers: layers.map(({ fc, proj }) => ({ fc: [...fc.outliers], proj: [...proj.outliers] })) },
  };
}

/** A whole model so laid out: its graphs, the MLP file, the embedding file (already written), the manifest. */
export async function writeLayeredModel(model: Omit<LayeredGraphs, "range"> & { embedding: ManifestFile; manifest: Omit<ManifestParts, "io" | "files" | "mlp"> }): Promise<ModelManifest> {
  const L = model.config.n_layer;
  const { files, mlp } = await writeLayeredGraphs({ ...model, range: [0, L] });
  return writeManifest(model.outDir, {
    ...model.manifest,
    io: { inputs: graphInputNames(L, "external"), outputs: graphOutputNames(L, "gqa", "external"), kv_padding: "right" },
    files: [...files, model.embedding],
    mlp,
  });
}

/** Graphs `layer-NN.onnx` with their data (whole or in parts) other than `keep`; with no `keep`, all of them and the MLP file. */
export async function removeLayerFiles(outDir: string, keep?: ReadonlySet<string>): Promise<void> {
  for (const name of await readdir(outDir)) {
    const match = /^(layer-\d+\.onnx)(\.data(\.part-\d+)?)?$/.exec(name);
    if (match && !keep?.has(match[1])) await rm(join(outDir, name), { force: true });
  }
  if (!keep) await removeSplitFile(outDir, MLP_FILE);
}
