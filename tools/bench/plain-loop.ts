// The straightforward decode loop every onnxruntime user writes: prefill, then one token per run(),
// feeding each step's present.* back as past_key_values.*. Written against onnxruntime-common's API,
// so the same code measures onnxruntime-web (WASM, 1 thread) and onnxruntime-node (native, 1
// intra-op thread) on the same ONNX file — in Node, and inside workerd. Greedy argmax picks the
// next token. No Node imports here: the bench Worker bundles this file (loading: plain-load.ts).
import type { InferenceSession, Tensor } from "onnxruntime-common";
import type { ModelManifest } from "../../src/model/manifest.js";

/** The parts of an onnxruntime package the loop needs (onnxruntime-web and -node both fit). */
export interface OrtPackage {
  /** A path only works with onnxruntime-node. */
  InferenceSession: { create(model: Uint8Array | string, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: "float32" | "int64", data: Float32Array | BigInt64Array, dims: readonly number[]) => Tensor;
}

export interface PlainLoopModel {
  manifest: ModelManifest;
  session: InferenceSession;
  coldStartMs: number;
}

/** One greedy sequence with the plain loop; returns per-step times (step 0 is the prefill). */
export async function plainGreedy(
  ort: OrtPackage,
  model: PlainLoopModel,
  prompt: number[],
  newTokens: number,
  clock: () => number = () => performance.now(),
): Promise<number[]> {
  const { n_layer: L, n_head: H, n_embd: E, vocab_size: V } = model.manifest.architecture;
  const D = E / H;
  const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
  let past: Record<string, Tensor> = {};
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"]) past[`present.${l}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [1, H, 0, D]);
  }
  const times: number[] = [];
  let fresh = prompt;
  let total = 0;
  for (let step = 0; step < newTokens; step++) {
    const started = clock();
    total += fresh.length;
    const feeds: Record<string, Tensor> = {
      input_ids: i64(fresh),
      attention_mask: i64(new Array(total).fill(1)),
      position_ids: i64(fresh.map((_, i) => total - fresh.length + i)),
    };
    for (let l = 0; l < L; l++) {
      for (const kind of ["key", "value"]) feeds[`past_key_values.${l}.${kind}`] = past[`present.${l}.${kind}`];
    }
    const out = await model.session.run(feeds);
    const logits = out.logits.data as Float32Array;
    const last = logits.subarray(logits.length - V); // works for [1, S, V] and [1, 1, V] logits
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
    past = out;
    fresh = [best];
    times.push(clock() - started);
  }
  return times;
}

/** Median: on shared cores a few steps are slowed by other work; the median ignores them. */
export const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
