// One step of a shard's graph (tools/convert/shard-graph.ts): hidden states and the batch's past
// keys/values of the shard's blocks in, every position's hidden states and the step's new
// keys/values out. Given the session and onnxruntime's Tensor class rather than importing them, so
// the same code runs in the Worker (onnxruntime-web/wasm, src/engine/ort.ts) and in Node tests.
import type { Tensor as OrtTensor } from "onnxruntime-web";
import type { KvCache, StepKv } from "../engine/forward";
import type { GraphSession } from "../engine/layered-session";
import { capacityOf } from "../engine/kv";
import type { ModelManifest, ShardInfo } from "../model/manifest";

export interface ShardGraphInput {
  batch: number;
  seq: number;
  /** Row-major [batch, seq, n_embd]. */
  hidden: Float32Array;
  /** Row-major [batch, past + seq]: 0 marks padding (right-padded rows). */
  attentionMask: number[];
  /** Row-major [batch, seq] (read by the first shard only: it adds the position embedding). */
  positionIds: number[];
  /** The batch's keys/values of this shard's blocks, [key, value] per block; null: none yet. */
  past: KvCache | null;
}

export interface ShardGraphOutput {
  /** Row-major [batch, seq, n_embd]: the residual stream, or after ln_f on the last shard. */
  hidden: Float32Array;
  /** This step's new keys/values ([batch, heads, seq, headDim] per block and kind). */
  kv: StepKv;
}

export type ShardForward = (input: ShardGraphInput) => Promise<ShardGraphOutput>;

type TensorClass = typeof OrtTensor;

/** The shard's manifest says what it holds; throws when it is not a shard's. */
export function shardInfo(manifest: ModelManifest, location: string): ShardInfo {
  if (!manifest.shard) throw new Error(`${location}/manifest.json is not a shard's (no "shard" field): convert with --shards`);
  return manifest.shard;
}

/**
 * The step function of a loaded shard graph. Runs must not overlap (one session): the caller
 * (ShardCore) runs one step at a time.
 */
export function shardForward(session: GraphSession, Tensor: TensorClass, manifest: ModelManifest, location: string): ShardForward {
  const { n_head: heads, n_embd: width } = manifest.architecture;
  const headDim = width / heads;
  const [from, to] = shardInfo(manifest, location).layers;
  const [input, , maybePositions] = manifest.io.inputs;
  const takesPositions = maybePositions === "position_ids";
  const output = manifest.io.outputs[0];
  const fetches = [output];
  for (let l = from; l < to; l++) fetches.push(`new_key_values.${l}.key`, `new_key_values.${l}.value`);
  const missing = [...manifest.io.inputs.filter((n) => !session.inputNames.includes(n)), ...fetches.filter((n) => !session.outputNames.includes(n))];
  if (missing.length > 0) throw new Error(`${location}: the shard's ONNX graph does not match its manifest (missing ${missing.join(", ")})`);

  return async ({ batch, seq, hidden, attentionMask, positionIds, past }) => {
    const int64 = (values: number[], dims: number[]) => new Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), dims);
    const pastLength = past?.length ?? 0;
    const feeds: Record<string, OrtTensor> = {
      [input]: new Tensor("float32", hidden, [batch, seq, width]),
      attention_mask: int64(attentionMask, [batch, pastLength + seq]),
    };
    if (takesPositions) feeds.position_ids = int64(positionIds, [batch, seq]);
    // A first step feeds an empty past; a cache with headroom is fed whole (the graph reads each
    // row's length from attention_mask), as the engine's session does.
    const pastDims = [batch, heads, past ? capacityOf(past) : 0, headDim];
    for (let l = from; l < to; l++) {
      const i = 2 * (l - from);
      feeds[`past_key_values.${l}.key`] = new Tensor("float32", past ? past.tensors[i] : new Float32Array(0), pastDims);
      feeds[`past_key_values.${l}.value`] = new Tensor("float32", past ? past.tensors[i + 1] : new Float32Array(0), pastDims);
    }
    const outputs = await session.run(feeds, fetches);
    const out = outputs[output];
    if (out.dims.join() !== [batch, seq, width].join()) throw new Error(`${location}: ${output} is [${out.dims.join(", ")}], expected [${batch}, ${seq}, ${width}]`);
    const tensors = fetches.slice(1).map((name) => {
      const dims = outputs[name].dims;
      if (dims.join() !== [batch, heads, seq, headDim].join()) throw new Error(`${location}: ${name} is [${dims.join(", ")}], expected [${batch}, ${heads}, ${seq}, ${headDim}]`);
      return outputs[name].data as Float32Array;
    });
    return { hidden: out.data as Float32Array, kv: { positions: seq, tensors } };
  };
}
