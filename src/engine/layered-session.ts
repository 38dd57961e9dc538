// A model whose blocks' MLPs run in our int8 kernel (issue 13; manifest `mlp`): onnxruntime-web
// re-packs every int8 weight matrix on every run(), and the MLPs hold two thirds of the blocks'
// weights. onnxruntime cannot call out of a graph, so the model is n_layer + 1 graphs — block l up
// to ln_2, then ln_f (tools/convert/layer-graphs.ts) — and each step runs them in order with the
// kernel's MLP between two runs. To ModelSession it is one graph: the same feeds, the same outputs.
// The kernel gives onnxruntime's numbers bit for bit, so the logits are the one-graph model's.
// A shard (src/shard) holds blocks [from, to) so: it takes `residual_in` (the stream, its addend
// zeros, as the one-graph shard's first SkipLayerNormalization gets) unless it starts at block 0,
// and returns `residual_out` (stream + last MLP output, one f32 addition as the shard graph's Add)
// unless it ends with ln_f.
import type { ManifestFile, ModelManifest } from "../model/manifest";
import type { ModelFiles } from "../model/source";
import { verifyStream } from "../model/verify";
import { MlpKernel } from "./lm-head/mlp";
import { lmHeadModule } from "./lm-head/module";
import { loadGraph, loadSession } from "./load-session";
import { ort } from "./ort";

/** What ModelSession needs of a model's graph: one onnxruntime session, or the layered chain. */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly outputMetadata?: readonly ort.InferenceSession.ValueMetadata[];
  run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<Record<string, ort.OnnxValue>>;
  release(): Promise<void>;
  /** WebAssembly memory held outside onnxruntime's heap (the MLP kernel's), bytes. */
  readonly kernelBytes?: number;
}

/** The model's graph as the manifest lays it out. */
export async function loadGraphSession(files: ModelFiles, manifest: ModelManifest): Promise<GraphSession> {
  return manifest.mlp ? LayeredSession.load(files, manifest) : loadSession(files, manifest);
}

const STREAM_IN = ["residual_in", "addend_in"] as const;

export class LayeredSession implements GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly outputMetadata?: readonly ort.InferenceSession.ValueMetadata[];
  readonly kernelBytes: number;
  /** The MLP's output, reused every block and step: a fresh array per block was garbage that V8
   * collects late (a prompt of 8 × 22 tokens: ~0.5 MB per block), next to onnxruntime's outputs. */
  private addend = new Float32Array(0);
  /** Blocks [from, to); the graph after the last block's is ln_f's when `last`. */
  private readonly from: number;
  private readonly to: number;
  private readonly last: boolean;

  private constructor(manifest: ModelManifest, private readonly stages: ort.InferenceSession[], private readonly mlp: MlpKernel) {
    [this.from, this.to] = manifest.shard?.layers ?? [0, manifest.architecture.n_layer];
    this.last = this.to === manifest.architecture.n_layer;
    this.inputNames = manifest.io.inputs;
    this.outputNames = manifest.io.outputs;
    this.outputMetadata = this.last ? stages[stages.length - 1].outputMetadata : undefined; // hidden_states, every position
    this.kernelBytes = mlp.memoryBytes;
  }

  /** The graphs in order (each streamed, verified and dropped once onnxruntime copied it), then the MLP file. */
  static async load(files: ModelFiles, manifest: ModelManifest): Promise<LayeredSession> {
    const graphs = manifest.files.filter((f) => f.role === "graph");
    const stages: ort.InferenceSession[] = [];
    try {
      for (const graph of graphs) {
        stages.push(await loadGraph(files, graph, manifest.files.filter((f) => f.role === "weights" && f.path === `${graph.path}.data`)));
      }
      return new LayeredSession(manifest, stages, await loadMlp(files, manifest));
    } catch (error) {
      await Promise.all(stages.map((stage) => stage.release()));
      throw error;
    }
  }

  async run(feeds: Record<string, ort.Tensor>, fetches: readonly string[]): Promise<Record<string, ort.OnnxValue>> {
    const wanted = new Set(fetches);
    const out: Record<string, ort.OnnxValue> = {};
    let stream: ort.Tensor[] = [];
    if (this.from > 0) {
      const residual = feeds.residual_in;
      stream = [residual, new ort.Tensor("float32", new Float32Array(residual.size), residual.dims)];
    }
    for (let l = this.from; l < this.to; l++) {
      const stageFeeds: Record<string, ort.Tensor> = { attention_mask: feeds.attention_mask };
      if (l === 0) {
        stageFeeds.inputs_embeds = feeds.inputs_embeds;
        stageFeeds.position_ids = feeds.position_ids;
      } else {
        STREAM_IN.forEach((name, i) => (stageFeeds[name] = stream[i]));
      }
      const kv = ["key", "value"].flatMap((kind) => [`present.${l}.${kind}`, `new_key_values.${l}.${kind}`]).filter((name) => wanted.has(name));
      for (const kind of ["key", "value"]) stageFeeds[`past_key_values.${l}.${kind}`] = feeds[`past_key_values.${l}.${kind}`];
      const result = await this.stages[l - this.from].run(stageFeeds, ["mlp_in", "residual_out", ...kv]);
      for (const name of kv) out[name] = result[name];
      const h = result.mlp_in as ort.Tensor;
      // (onnxruntime copied the previous addend in during the run above: the array is free again)
      if (this.addend.length < h.size) this.addend = new Float32Array(h.size);
      const addend = this.mlp.forward(l - this.from, h.data as Float32Array, this.addend.subarray(0, h.size));
      stream = [result.residual_out as ort.Tensor, new ort.Tensor("float32", addend, h.dims)];
    }
    if (this.last) {
      const final = await this.stages[this.to - this.from].run({ residual_in: stream[0], addend_in: stream[1] }, ["hidden_states"]);
      out.hidden_states = final.hidden_states;
    } else {
      // Float32Array stores round each sum to f32: the shard graph's Add, bit for bit.
      const [residual, addend] = stream.map((t) => t.data as Float32Array);
      out.residual_out = new ort.Tensor("float32", residual.map((r, i) => r + addend[i]), stream[0].dims);
    }
    return out;
  }

  async release(): Promise<void> {
    await Promise.all(this.stages.map((stage) => stage.release()));
  }
}

/** The MLP file streamed straight into the kernel's memory, checked on the way (size and sha256). */
async function loadMlp(files: ModelFiles, manifest: ModelManifest): Promise<MlpKernel> {
  const entry = manifest.files.find((f) => f.role === "mlp") as ManifestFile;
  const { n_embd: hidden } = manifest.architecture;
  const layers = manifest.mlp!.outliers.length; // the model's blocks, or a shard's
  const where = `${files.location}/${entry.path}`;
  let kernel: MlpKernel;
  try {
    kernel = await MlpKernel.create(lmHeadModule, { layers, hidden, inner: manifest.mlp!.inner, outliers: manifest.mlp!.outliers });
  } catch (error) {
    throw new Error(`${where}: the MLP kernel cannot hold it: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (entry.bytes !== kernel.fileBytes) throw new Error(`${where}: manifest lists ${entry.bytes} bytes, the MLPs of its shape are ${kernel.fileBytes}`);
  const file = kernel.file;
  await verifyStream(await files.stream(entry.path), entry, files.location, (chunk, offset) => file.set(chunk, offset));
  return kernel;
}
