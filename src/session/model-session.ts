// One ONNX session and what the decode loop needs from it. `run()` calls on one session must not
// overlap, so every forward step goes through a FIFO lock: concurrent requests interleave step by
// step instead of failing.
import type { ModelManifest } from "../model/manifest";
import type { Forward, ForwardInput, ForwardOutput, KvCache } from "../generation/forward";
import { ort } from "./ort";

export class ModelSession {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly layers: number;
  private readonly heads: number;
  private readonly headDim: number;
  private readonly vocab: number;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: ort.InferenceSession,
  ) {
    const arch = manifest.architecture;
    this.layers = arch.n_layer;
    this.heads = arch.n_head;
    this.headDim = arch.n_embd / arch.n_head;
    this.vocab = arch.vocab_size;
  }

  readonly forward: Forward = (input) => this.exclusive(() => this.step(input));

  async release(): Promise<void> {
    await this.exclusive(() => this.session.release());
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined); // a failed step must not block the next one
    return result;
  }

  private async step(input: ForwardInput): Promise<ForwardOutput> {
    const { batch, seq, past } = input;
    const pastLength = past?.length ?? 0;
    const int64 = (values: number[], dims: number[]) =>
      new ort.Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), dims);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(input.inputIds, [batch, seq]),
      attention_mask: int64(input.attentionMask, [batch, pastLength + seq]),
      position_ids: int64(input.positionIds, [batch, seq]),
    };
    const pastDims = [batch, this.heads, pastLength, this.headDim];
    for (let layer = 0; layer < this.layers; layer++) {
      const key = past ? past.tensors[2 * layer] : new Float32Array(0);
      const value = past ? past.tensors[2 * layer + 1] : new Float32Array(0);
      feeds[`past_key_values.${layer}.key`] = new ort.Tensor("float32", key, pastDims);
      feeds[`past_key_values.${layer}.value`] = new ort.Tensor("float32", value, pastDims);
    }
    // Hub ONNX exports (tools/fetch): Optimum's merged decoders pick their branch with
    // use_cache_branch (false: the no-cache branch, which ignores the past); older exports
    // derive positions themselves and have no position_ids input.
    const graphInputs = this.session.inputNames;
    if (graphInputs.includes("use_cache_branch")) feeds.use_cache_branch = new ort.Tensor("bool", Uint8Array.of(pastLength > 0 ? 1 : 0), [1]);
    if (!graphInputs.includes("position_ids")) delete feeds.position_ids;
    const outputs = await this.session.run(feeds);
    const all = outputs.logits.data as Float32Array;
    // Graphs may return logits for every new position [batch, seq, vocab] or, to save work and
    // copies, only for the last one [batch, 1, vocab]: read which from the output's shape.
    const positions = outputs.logits.dims[1];
    const logits: Float32Array[] = [];
    for (let row = 0; row < batch; row++) {
      const start = ((row + 1) * positions - 1) * this.vocab;
      logits.push(all.slice(start, start + this.vocab)); // a copy, so the big buffer can be freed
    }
    const tensors: Float32Array[] = [];
    for (let layer = 0; layer < this.layers; layer++) {
      tensors.push(outputs[`present.${layer}.key`].data as Float32Array);
      tensors.push(outputs[`present.${layer}.value`].data as Float32Array);
    }
    const present: KvCache = { batch, heads: this.heads, length: pastLength + seq, tensors };
    return { logits, present };
  }
}
