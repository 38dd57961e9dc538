// One ONNX session and what the decode loop needs from it. `run()` calls on one session must not
// overlap: the engine's scheduler is the only caller, and a FIFO lock keeps any other caller
// (tests, benchmarks) from running steps concurrently.
import type { ModelManifest } from "../model/manifest";
import type { Forward, ForwardInput, ForwardOutput } from "./forward";
import type { TokenHead } from "./head";
import { capacityOf } from "./kv";
import type { KvLayout } from "./kv-layout";
import type { GraphSession } from "./layered-session";
import { ort } from "./ort";

export class ModelSession {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly layers: number;
  private readonly heads: number;
  private readonly headDim: number;
  /** Hub ONNX exports (tools/fetch): Optimum's merged decoders pick their branch with
   * use_cache_branch (false: the no-cache branch, which ignores the past); older exports derive
   * positions themselves and have no position_ids input. */
  private readonly takesUseCacheBranch: boolean;
  private readonly takesPositionIds: boolean;
  private readonly fetches: string[];
  /** The head's output holds every position of a step, not only the last (outputMetadata: its
   * sequence dimension is symbolic): steps can verify several draft tokens at once. */
  readonly returnsEveryPosition: boolean;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: GraphSession,
    private readonly layout: KvLayout,
    private readonly head: TokenHead,
  ) {
    const arch = manifest.architecture;
    this.layers = arch.n_layer;
    this.heads = arch.n_head;
    this.headDim = arch.n_embd / arch.n_head;
    this.takesUseCacheBranch = session.inputNames.includes("use_cache_branch");
    this.takesPositionIds = session.inputNames.includes("position_ids");
    const headOutput = session.outputMetadata?.find((m) => m.name === head.outputName);
    this.returnsEveryPosition = headOutput?.isTensor === true && typeof headOutput.shape[1] === "string";
    this.fetches = [head.outputName];
    for (let layer = 0; layer < this.layers; layer++) this.fetches.push(layout.outputName(layer, "key"), layout.outputName(layer, "value"));
  }

  /** Graph inputs and outputs the model's layout needs that the graph lacks (empty = fine). */
  static missingNames(session: GraphSession, manifest: ModelManifest, layout: KvLayout, head: TokenHead): string[] {
    const missing = manifest.io.inputs.filter((name) => !session.inputNames.includes(name));
    missing.push(...manifest.io.outputs.filter((name) => !session.outputNames.includes(name)));
    for (let layer = 0; layer < manifest.architecture.n_layer; layer++) {
      for (const kind of ["key", "value"] as const) {
        if (!session.inputNames.includes(`past_key_values.${layer}.${kind}`)) missing.push(`past_key_values.${layer}.${kind}`);
        if (!session.outputNames.includes(layout.outputName(layer, kind))) missing.push(layout.outputName(layer, kind));
      }
    }
    if (!session.inputNames.includes(head.inputName)) missing.push(head.inputName);
    if (!session.outputNames.includes(head.outputName)) missing.push(head.outputName);
    return [...new Set(missing)];
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
      [this.head.inputName]: this.head.feed(input.inputIds, batch, seq),
      attention_mask: int64(input.attentionMask, [batch, pastLength + seq]),
    };
    if (this.takesPositionIds) feeds.position_ids = int64(input.positionIds, [batch, seq]);
    // A first step feeds an empty past [batch, heads, 0, headDim], as transformers.js and Optimum
    // do; a cache with headroom is fed whole (the graph reads each row's length from attention_mask).
    const pastDims = [batch, this.heads, past ? capacityOf(past) : 0, this.headDim];
    for (let layer = 0; layer < this.layers; layer++) {
      const key = past ? past.tensors[2 * layer] : new Float32Array(0);
      const value = past ? past.tensors[2 * layer + 1] : new Float32Array(0);
      feeds[`past_key_values.${layer}.key`] = new ort.Tensor("float32", key, pastDims);
      feeds[`past_key_values.${layer}.value`] = new ort.Tensor("float32", value, pastDims);
    }
    if (this.takesUseCacheBranch) feeds.use_cache_branch = new ort.Tensor("bool", Uint8Array.of(pastLength > 0 ? 1 : 0), [1]);
    const outputs = await this.session.run(feeds, this.fetches);
    const tensors = this.fetches.slice(1).map((name) => {
      const [b, heads, , headDim] = outputs[name].dims;
      if (b !== batch || heads !== this.heads || headDim !== this.headDim) {
        throw new Error(`${name} is [${outputs[name].dims.join(", ")}], manifest says [${batch}, ${this.heads}, positions, ${this.headDim}] (n_head ${this.heads}, n_embd ${this.heads * this.headDim})`);
      }
      return outputs[name].data as Float32Array;
    });
    const kv = { positions: outputs[this.fetches[1]].dims[2], tensors };
    const head = outputs[this.head.outputName];
    const positions = input.logitPositions ?? 1;
    if (positions > 1) return { logits: [], positionLogits: this.head.positionLogits(head, batch, positions), kv };
    // Views, not copies: the scheduler consumes every row within the step (copying each 200 KB row
    // cost more per row than choosing its token).
    return { logits: this.head.lastLogits(head, batch), kv };
  }
}
