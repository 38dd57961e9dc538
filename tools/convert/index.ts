// Hugging Face GPT-2 checkpoint → ONNX (graph + external data) + manifest.json for the runtime.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { ManifestFile, ModelManifest, WeightDType } from "../../src/model/manifest.js";
import { writeManifest } from "../lib/manifest.js";
import { loadCheckpoint } from "./checkpoint.js";
import { buildGpt2Graph, defaultAttention, graphInputNames, graphOutputNames, MS_DOMAIN, type GraphOptions } from "./gpt2-graph.js";
import { removeEmbeddingFiles, writeEmbeddingFile } from "./embedding-file.js";
import { calibrate, outlierChannels, type ChannelMaxima } from "./calibrate.js";
import { smoothWeights } from "./smoothing.js";
import { int8Format, type Int8Options } from "./int8-format.js";
import { quantizeRows } from "./quantize.js";
import { planByMemory, evenRanges, type PlanOptions } from "./shard-plan.js";
import { removeStale, writeShardedModel } from "./shards.js";
import { removeLayerFiles, writeLayeredModel } from "./layered-model.js";
import { fp32Format } from "./weight-formats.js";
import { removeGraphFiles, writeOnnxWithExternalData, type OnnxModelOptions } from "./write-model.js";

export const CONVERTER_VERSION = "0.1.0";
export const OPSET = 17;

export interface ConvertOptions {
  dtype: WeightDType;
  outDir: string;
  /** Manifest name; defaults to the checkpoint folder's name. */
  name?: string;
  /** int8 tuning knobs (tests use them to rebuild the README yardstick scheme for comparison). */
  int8?: Int8Options & {
    /**
     * Find each linear's outlier input channels with a calibration pass and keep them in fp32
     * (default true; false, or explicit `outlierChannels`, skips the pass).
     */
    calibrate?: boolean;
    /** With calibration: keep the outlier channels in fp32 (default true). */
    decompose?: boolean;
    /**
     * With calibration: SmoothQuant migration strength α folded into ln_1/ln_2 and c_attn/c_fc
     * (default 0 = off: measured, α 0.5 lowers the outlier checkpoint's KL a little but costs
     * top-1 there and on tiny-a/tiny-b; see README).
     */
    smoothing?: number;
  };
  /** Which positions get logits (default "last": [batch, 1, vocab]; "all" for accuracy tests). */
  logits?: GraphOptions["logits"];
  /** Attention operator (default: GroupQueryAttention where the head size allows; see GraphOptions). */
  attention?: GraphOptions["attention"];
  /**
   * "external" (the default for int8 when n_embd is a multiple of 16, as the kernel needs): the
   * graph maps inputs_embeds → hidden_states, and the int8 token embedding is written once as its
   * own file (embedding-file.ts, manifest role "embedding") for the engine's int8 LM-head kernel
   * (src/engine/lm-head), which gives the same logits bit for bit, faster. "graph" (the default for
   * fp32, which stays exact in ONNX): input_ids → logits in one graph, the old single-graph layout.
   */
  embedding?: GraphOptions["embedding"];
  /**
   * "kernel" (the default where the model allows it: the int8 external embedding, GroupQueryAttention,
   * gelu_new, n_inner a multiple of 16): the blocks' MLPs run in the engine's int8 kernel between
   * a graph per block and ln_f's (layer-graphs.ts; a shard holds its blocks' graphs), with the
   * one-graph model's numbers bit for bit and without onnxruntime's per-run weight repacking.
   * "graph": the MLPs stay in the graph.
   */
  mlp?: "kernel" | "graph";
  /** Split the weights into files of at most this size (static assets: 25 MiB). Default: one file. */
  maxFileBytes?: number;
  /**
   * Shard the transformer blocks (issue 14; int8 with the external embedding and
   * GroupQueryAttention): into `count` shards, or into the fewest whose estimated isolate memory
   * fits `memoryBytes` (shard-plan.ts). Default: one graph.
   */
  shards?: { count: number } | ({ memoryBytes: number } & PlanOptions);
}

export async function convertCheckpoint(checkpointDir: string, opts: ConvertOptions): Promise<ModelManifest> {
  if (opts.dtype !== "int8" && opts.dtype !== "fp32") throw new Error(`unsupported dtype ${opts.dtype} (int8 or fp32)`);
  if (opts.embedding === "external" && opts.dtype !== "int8") throw new Error(`embedding "external" needs dtype int8 (the LM-head kernel is int8), got ${opts.dtype}`);
  const dir = resolve(checkpointDir);
  const { config, weights, configBytes, weightsPath } = await loadCheckpoint(dir);
  const { vocab_size: V, n_embd: E } = config;
  if (opts.embedding === "external" && E % KERNEL_COLUMNS !== 0) throw new Error(`embedding "external" needs n_embd a multiple of ${KERNEL_COLUMNS} (the LM-head kernel's step), got ${E}`);
  const embedding = opts.embedding ?? defaultEmbedding(opts.dtype, E);

  let int8 = opts.int8;
  let graphWeights = weights; // fp32 always converts the checkpoint's weights as they are
  if (opts.dtype === "int8" && (int8?.calibrate ?? true) && !int8?.outlierChannels) {
    let maxima = await calibrate(config, weights);
    const alpha = int8?.smoothing ?? 0;
    if (alpha > 0) ({ weights: graphWeights, maxima } = smoothWeights(weights, maxima, alpha));
    if (int8?.decompose ?? true) int8 = { ...int8, outlierChannels: pickOutlierChannels(maxima) };
  }
  // A fresh format per graph (a format builds its shared constants into the graph it serves first);
  // sharded and layered models are int8 only.
  const makeInt8Format = () => int8Format(weights.wte, V, E, int8);
  const makeFormat = () => (opts.dtype === "int8" ? makeInt8Format() : fp32Format(weights.wte, V, E));
  const attention = opts.attention ?? defaultAttention(config);
  const mlpFits = embedding === "external" && attention === "gqa" && config.activation === "gelu_new" && config.n_inner % KERNEL_COLUMNS === 0;
  if (opts.mlp === "kernel" && !mlpFits) {
    throw new Error(`mlp "kernel" needs the int8 external embedding, GroupQueryAttention, gelu_new and n_inner a multiple of ${KERNEL_COLUMNS} (got embedding ${embedding}, attention ${attention}, ${config.activation}, n_inner ${config.n_inner})`);
  }
  const mlpKernel = mlpFits && opts.mlp !== "graph";
  if (opts.shards && (embedding !== "external" || attention !== "gqa")) {
    throw new Error(`sharding needs the int8 external embedding and GroupQueryAttention (n_embd a multiple of ${KERNEL_COLUMNS}, head size a multiple of 8), got embedding ${embedding}, attention ${attention}`);
  }

  await mkdir(opts.outDir, { recursive: true });
  const name = opts.name ?? basename(dir);
  const onnx: OnnxModelOptions = {
    graphName: `${name}-${opts.dtype}`,
    opsets: [{ domain: "", version: OPSET }, { domain: MS_DOMAIN, version: 1 }],
    producer: { name: "edge-gpt2-convert", version: CONVERTER_VERSION },
    // (embedding only when external, so a default conversion's graph stays byte-identical)
    metadata: { dtype: opts.dtype, source: basename(dir), logits: embedding === "external" ? "all" : (opts.logits ?? "last"), attention, ...(embedding === "external" ? { embedding } : {}) },
    maxFileBytes: opts.maxFileBytes,
  };
  const common = {
    name, config, configBytes, dtype: opts.dtype, checkpoint: basename(dir),
    weightsSha256: await sha256File(weightsPath), createdBy: `edge-gpt2 tools/convert ${CONVERTER_VERSION}`,
  };
  const writeEmbedding = async (): Promise<ManifestFile> => {
    const { q, scale } = quantizeRows(weights.wte, V, E, opts.int8?.clipping);
    return { ...(await writeEmbeddingFile(opts.outDir, q, scale, opts.maxFileBytes)), role: "embedding" };
  };
  if (opts.shards) {
    const ranges = "count" in opts.shards ? evenRanges(config.n_layer, opts.shards.count) : planByMemory(config, opts.shards.memoryBytes, opts.shards);
    const embeddingFile = await writeEmbedding();
    await removeLayerFiles(opts.outDir); // the front has no graphs of its own
    return writeShardedModel({ config, weights: graphWeights, format: makeInt8Format, mlpKernel, ranges, outDir: opts.outDir, embedding: embeddingFile, onnx, manifest: common });
  }
  await removeStale(opts.outDir, 0); // shard folders of an earlier sharded conversion
  if (mlpKernel) {
    await removeGraphFiles(opts.outDir); // a one-graph model's files
    const embeddingFile = await writeEmbedding();
    return writeLayeredModel({ config, weights: graphWeights, format: makeInt8Format, outDir: opts.outDir, embedding: embeddingFile, onnx, manifest: common });
  }
  await removeLayerFiles(opts.outDir);
  const graph = buildGpt2Graph(config, graphWeights, makeFormat(), { logits: opts.logits, attention, embedding });
  const files = await writeOnnxWithExternalData(graph, opts.outDir, onnx);
  const embeddingFiles: ManifestFile[] = [];
  if (embedding === "external") {
    embeddingFiles.push(await writeEmbedding());
  } else {
    // A folder re-converted to the one-graph layout must not keep serving an old table.
    await removeEmbeddingFiles(opts.outDir);
  }

  return writeManifest(opts.outDir, {
    ...common,
    io: {
      inputs: graphInputNames(config.n_layer, embedding),
      outputs: graphOutputNames(config.n_layer, attention, embedding),
      kv_padding: attention === "gqa" ? "right" : "left",
    },
    files: [
      { ...files.graph, role: "graph" },
      { ...files.data, role: "weights" },
      ...embeddingFiles,
    ],
  });
}

/** The LM-head kernel reads 16 int8 columns per step (src/engine/lm-head). */
const KERNEL_COLUMNS = 16;

/** int8 → the kernel's layout where it fits; fp32 keeps the exact one-graph model. */
export function defaultEmbedding(dtype: WeightDType, nEmbd: number): NonNullable<GraphOptions["embedding"]> {
  return dtype === "int8" && nEmbd % KERNEL_COLUMNS === 0 ? "external" : "graph";
}

// A channel is an outlier when its calibrated max |x| exceeds OUTLIER_RATIO × the median channel's;
// at most 1 in OUTLIER_SHARE channels of a linear's input is kept in fp32.
export const OUTLIER_RATIO = 8;
const OUTLIER_SHARE = 32;

function pickOutlierChannels(maxima: ChannelMaxima): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const [name, max] of maxima) {
    const channels = outlierChannels(max, OUTLIER_RATIO, Math.max(1, Math.floor(max.length / OUTLIER_SHARE)));
    if (channels.length) found.set(name, channels);
  }
  return found;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
