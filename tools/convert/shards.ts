// Writes a sharded model (issue 14): the front's folder (manifest.json naming the shards, and the
// int8 embedding file for the front's LM-head kernel) and one folder per shard (shard-<i>/) with
// its own manifest, graph and weights, loadable like any model folder (src/shard loads them).
//   <out>/manifest.json        shards: [{ path: "shard-0", layers: [0, 3], manifest_sha256, bytes }, …]
//   <out>/embedding.int8
//   <out>/shard-<i>/manifest.json, model.onnx, model.onnx.data (or its ≤ 25 MiB parts) — or, with the
//   MLPs in the kernel (the default where it fits), its blocks' layer-NN.onnx (+ ln_f's on the last
//   shard) and mlp.int8 (layered-model.ts), like an unsharded model's
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ManifestFile, ManifestShard, ModelManifest } from "../../src/model/manifest.js";
import { writeManifest, type ManifestParts } from "../lib/manifest.js";
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import { graphInputNames, graphOutputNames } from "./gpt2-graph.js";
import { buildShardGraph, shardInputNames, shardOutputNames } from "./shard-graph.js";
import type { LayerRange } from "./shard-plan.js";
import type { int8Format } from "./int8-format.js";
import { removeLayerFiles, writeLayeredGraphs } from "./layered-model.js";
import { removeGraphFiles, writeOnnxWithExternalData, type OnnxModelOptions } from "./write-model.js";

export const shardFolder = (index: number) => `shard-${index}`;

export interface ShardedModel {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /** A fresh weight format per graph (a format builds its shared constants into one graph). */
  format: () => ReturnType<typeof int8Format>;
  /** Each shard's MLPs in its own MLP kernel (layered-model.ts) instead of its graph. */
  mlpKernel: boolean;
  ranges: LayerRange[];
  outDir: string;
  /** The front's embedding file, already written to outDir. */
  embedding: ManifestFile;
  /** Graph file options (opsets, producer, metadata, file size limit) and the manifest's common fields. */
  onnx: OnnxModelOptions;
  manifest: Omit<ManifestParts, "io" | "files" | "shards" | "shard">;
}

export async function writeShardedModel(model: ShardedModel): Promise<ModelManifest> {
  const { config, ranges, outDir } = model;
  const count = ranges.length;
  await removeStale(outDir, count);
  const shards: ManifestShard[] = [];
  for (const [index, layers] of ranges.entries()) {
    const dir = join(outDir, shardFolder(index));
    await mkdir(dir, { recursive: true });
    const first = layers[0] === 0;
    const last = layers[1] === config.n_layer;
    const onnx = {
      ...model.onnx,
      graphName: `${model.onnx.graphName}-shard-${index}`,
      metadata: { ...model.onnx.metadata, shard: `${index}/${count}`, layers: `${layers[0]}-${layers[1]}` },
    };
    let files: ManifestFile[];
    let mlp: ModelManifest["mlp"];
    if (model.mlpKernel) {
      ({ files, mlp } = await writeLayeredGraphs({ config, weights: model.weights, format: model.format, outDir: dir, onnx, range: layers }));
      await removeGraphFiles(dir);
    } else {
      const written = await writeOnnxWithExternalData(buildShardGraph(config, model.weights, model.format(), layers), dir, onnx);
      files = [{ ...written.graph, role: "graph" }, { ...written.data, role: "weights" }];
      await removeLayerFiles(dir);
    }
    await writeManifest(dir, {
      ...model.manifest,
      name: `${model.manifest.name}/${shardFolder(index)}`,
      io: { inputs: shardInputNames(layers, first), outputs: shardOutputNames(layers, last), kv_padding: "right" },
      files,
      shard: { index, count, layers },
      ...(mlp ? { mlp } : {}),
    });
    const manifestBytes = await readFile(join(dir, "manifest.json"));
    shards.push({
      path: shardFolder(index),
      layers,
      manifest_sha256: createHash("sha256").update(manifestBytes).digest("hex"),
      bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    });
  }
  // The front: the shards chained read as one graph from inputs_embeds to hidden_states.
  return writeManifest(outDir, {
    ...model.manifest,
    io: { inputs: graphInputNames(config.n_layer, "external"), outputs: graphOutputNames(config.n_layer, "gqa", "external"), kv_padding: "right" },
    files: [model.embedding],
    shards,
  });
}

/** What an earlier conversion left: a one-graph model's files, or shard folders beyond `keep`. */
export async function removeStale(outDir: string, keep: number): Promise<void> {
  for (const name of await readdir(outDir)) {
    const shard = /^shard-(\d+)$/.exec(name);
    if (shard && Number(shard[1]) >= keep) await rm(join(outDir, name), { recursive: true, force: true });
  }
  if (keep > 0) await removeGraphFiles(outDir);
}
