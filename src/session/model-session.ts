// One ONNX session and what the decode loop needs from it. `run()` calls on one session must not
// overlap: the model's scheduler is the only caller in the Worker, and a FIFO lock keeps any other
// caller (tests, benchmarks) from running steps concurrently.
import type { ModelManifest } from "../model/manifest";
import type { Forward, ForwardInput, ForwardOutput, KvCache } from "../generation/forward";
import { appendRightPadded, capacityOf } from "../generation/kv";
import { ort } from "./ort";

export class ModelSession {
  private queue: Promise<unknown> = Promise.resolve();
  /** Set once the graph refused an empty past on a first step (see firstStep). */
  private dummyPast = false;
  private readonly layers: number;
  private readonly heads: number;
  private readonly headDim: number;
  private readonly vocab: number;
  /** Hub ONNX exports (tools/fetch): Optimum's merged decoders pick their branch with
   * use_cache_branch (false: the no-cache branch, which ignores the past); older exports derive
   * positions themselves and have no position_ids input. */
  private readonly takesUseCacheBranch: boolean;
  private readonly takesPositionIds: boolean;
  /** Our GroupQueryAttention graphs also return just the new positions' keys/values: the session
   * then keeps the cache in JS, appends those, and never copies the whole `present` out of WASM. */
  private readonly appendsNewKeys: boolean;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: ort.InferenceSession,
  ) {
    const arch = manifest.architecture;
    this.layers = arch.n_layer;
    this.heads = arch.n_head;
    this.headDim = arch.n_embd / arch.n_head;
    this.vocab = arch.vocab_size;
    this.takesUseCacheBranch = session.inputNames.includes("use_cache_branch");
    this.takesPositionIds = session.inputNames.includes("position_ids");
    this.appendsNewKeys = manifest.io.kv_padding === "right" && session.outputNames.includes("new_key_values.0.key");
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
    // A cache with headroom is fed whole: the graph reads each row's length from attention_mask.
    const pastDims = [batch, this.heads, past ? capacityOf(past) : 0, this.headDim];
    for (let layer = 0; layer < this.layers; layer++) {
      const key = past ? past.tensors[2 * layer] : new Float32Array(0);
      const value = past ? past.tensors[2 * layer + 1] : new Float32Array(0);
      feeds[`past_key_values.${layer}.key`] = new ort.Tensor("float32", key, pastDims);
      feeds[`past_key_values.${layer}.value`] = new ort.Tensor("float32", value, pastDims);
    }
    if (this.takesUseCacheBranch) feeds.use_cache_branch = new ort.Tensor("bool", Uint8Array.of(pastLength > 0 ? 1 : 0), [1]);
    if (!this.takesPositionIds) delete feeds.position_ids;
    const kvOutput = (layer: number, kind: string) => (this.appendsNewKeys ? `new_key_values.${layer}.${kind}` : `present.${layer}.${kind}`);
    const fetches = ["logits"];
    for (let layer = 0; layer < this.layers; layer++) fetches.push(kvOutput(layer, "key"), kvOutput(layer, "value"));
    const outputs = pastLength === 0 ? await this.firstStep(feeds, fetches) : await this.session.run(feeds, fetches);
    const all = outputs.logits.data as Float32Array;
    // Graphs may return logits for every new position [batch, seq, vocab] or, to save work and
    // copies, only for the last one [batch, 1, vocab]: read which from the output's shape.
    const positions = outputs.logits.dims[1];
    const logits: Float32Array[] = [];
    for (let row = 0; row < batch; row++) {
      const start = ((row + 1) * positions - 1) * this.vocab;
      // A view, not a copy: the scheduler consumes every row within the step (copying each
      // 200 KB row cost more per row than choosing its token).
      logits.push(all.subarray(start, start + this.vocab));
    }
    const tensors: Float32Array[] = [];
    for (let layer = 0; layer < this.layers; layer++) {
      tensors.push(outputs[kvOutput(layer, "key")].data as Float32Array);
      tensors.push(outputs[kvOutput(layer, "value")].data as Float32Array);
    }
    // GroupQueryAttention's present is as long as the past buffer it was fed when that has
    // headroom: the same layout, so the headroom carries over.
    const presentPositions = outputs[kvOutput(0, "key")].dims[2];
    let present: KvCache = { batch, heads: this.heads, length: pastLength + seq, capacity: presentPositions, tensors };
    if (this.appendsNewKeys && past) {
      const total = pastLength + seq;
      const rowLengths = Array.from({ length: batch }, (_, row) => {
        let ones = 0;
        for (let i = row * total; i < row * total + pastLength; i++) ones += input.attentionMask[i];
        return ones;
      });
      present = appendRightPadded(past, tensors, rowLengths, seq, input.reusePast ?? false);
    }
    return { logits, present };
  }

  /**
   * A first step feeds an empty past [batch, heads, 0, headDim], as transformers.js and Optimum do.
   * A graph that refuses it (some exports expect the one-position dummy past older Optimum fed)
   * gets that dummy instead, from then on: zeros, masked out with a leading attention_mask 0 and cut
   * from `present` again, so the cache and logits are exactly what an empty past would give.
   * Merged decoders ignore the past on their no-cache branch, so their mask and present stay as is.
   */
  private async firstStep(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<ort.InferenceSession.OnnxValueMapType> {
    // A masked leading position is how left-padded graphs skip it; right-padded ones (ours) would
    // read it as the row's first key, and they take an empty past anyway.
    if (this.manifest.io.kv_padding === "right") return this.session.run(feeds, fetches);
    if (!this.dummyPast) {
      try {
        return await this.session.run(feeds, fetches);
      } catch (error) {
        try {
          const outputs = await runWithDummyPast(this.session, feeds);
          this.dummyPast = true;
          return outputs;
        } catch {
          throw error; // not about the past: report the original failure
        }
      }
    }
    return runWithDummyPast(this.session, feeds);
  }
}

async function runWithDummyPast(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const merged = "use_cache_branch" in feeds;
  const withDummy: Record<string, ort.Tensor> = { ...feeds };
  for (const [name, tensor] of Object.entries(feeds)) {
    if (!name.startsWith("past_key_values.")) continue;
    const [batch, heads, , headDim] = tensor.dims;
    withDummy[name] = new ort.Tensor("float32", new Float32Array(batch * heads * headDim), [batch, heads, 1, headDim]);
  }
  if (merged) return session.run(withDummy);
  const [batch, length] = feeds.attention_mask.dims;
  const mask = feeds.attention_mask.data as BigInt64Array;
  const padded = new BigInt64Array(batch * (length + 1));
  for (let row = 0; row < batch; row++) padded.set(mask.subarray(row * length, (row + 1) * length), row * (length + 1) + 1);
  withDummy.attention_mask = new ort.Tensor("int64", padded, [batch, length + 1]);
  const outputs = { ...(await session.run(withDummy)) };
  for (const [name, tensor] of Object.entries(outputs)) {
    if (!name.startsWith("present.")) continue;
    const [b, heads, positions, headDim] = tensor.dims;
    const data = tensor.data as Float32Array;
    const kept = new Float32Array(b * heads * (positions - 1) * headDim);
    for (let block = 0; block < b * heads; block++) {
      kept.set(data.subarray((block * positions + 1) * headDim, (block + 1) * positions * headDim), block * (positions - 1) * headDim);
    }
    outputs[name] = new ort.Tensor("float32", kept, [b, heads, positions - 1, headDim]);
  }
  return outputs;
}
