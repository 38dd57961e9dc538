// Runs a converted model folder with onnxruntime-web in Node (its node build, WASM backend) — the
// same kernels the Worker uses. Helpers for full forward passes, KV-cache steps and greedy decoding.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import type { ModelManifest } from "../../src/model/manifest.js";

ort.env.wasm.numThreads = 1;

export interface LoadedModel {
  session: ort.InferenceSession;
  manifest: ModelManifest;
  nLayer: number;
  nHead: number;
  headDim: number;
  vocab: number;
}

export interface ForwardResult {
  /** [B, S, V] */
  logits: Float32Array;
  present: Record<string, ort.Tensor>;
}

export async function loadModel(dir: string): Promise<LoadedModel> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
  const graph = await readFile(join(dir, "model.onnx"));
  const data = await readFile(join(dir, "model.onnx.data"));
  const session = await ort.InferenceSession.create(new Uint8Array(graph), {
    executionProviders: ["wasm"],
    externalData: [{ path: "model.onnx.data", data: new Uint8Array(data) }],
  });
  const a = manifest.architecture;
  return { session, manifest, nLayer: a.n_layer, nHead: a.n_head, headDim: a.n_embd / a.n_head, vocab: a.vocab_size };
}

const i64 = (rows: number[][]) =>
  new ort.Tensor("int64", BigInt64Array.from(rows.flat().map((v) => BigInt(v))), [rows.length, rows[0].length]);

/** One forward pass. `past` holds present.* tensors of a previous call (or nothing for prefill). */
export async function forward(
  m: LoadedModel,
  ids: number[][],
  opts: { mask?: number[][]; positions?: number[][]; past?: Record<string, ort.Tensor> } = {},
): Promise<ForwardResult> {
  const B = ids.length;
  const S = ids[0].length;
  const pastLen = opts.past ? (opts.past["present.0.key"].dims[2] as number) : 0;
  const mask = opts.mask ?? ids.map(() => new Array(pastLen + S).fill(1));
  const positions = opts.positions ?? ids.map(() => Array.from({ length: S }, (_, i) => pastLen + i));
  const feeds: Record<string, ort.Tensor> = { input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(positions) };
  for (let l = 0; l < m.nLayer; l++) {
    for (const kind of ["key", "value"]) {
      feeds[`past_key_values.${l}.${kind}`] =
        opts.past?.[`present.${l}.${kind}`] ?? new ort.Tensor("float32", new Float32Array(0), [B, m.nHead, 0, m.headDim]);
    }
  }
  const out = await m.session.run(feeds);
  const present: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(out)) if (name.startsWith("present.")) present[name] = t;
  return { logits: out.logits.data as Float32Array, present };
}

/** Logits of position `pos` of batch row `row` from a [B, S, V] buffer. */
export function logitsAt(logits: Float32Array, S: number, V: number, row: number, pos: number): Float32Array {
  const start = (row * S + pos) * V;
  return logits.subarray(start, start + V);
}

/** Last-position logits of batch row `row`, for [B, S, V] and last-position-only [B, 1, V] outputs alike. */
export function lastLogits(logits: Float32Array, batch: number, V: number, row: number): Float32Array {
  const positions = logits.length / (batch * V);
  return logitsAt(logits, positions, V, row, positions - 1);
}

export function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Greedy decoding with the KV cache: prefill the prompt, then one token per step. */
export async function greedy(m: LoadedModel, prompt: number[], maxNewTokens: number): Promise<number[]> {
  const tokens = [...prompt];
  let step = await forward(m, [prompt]);
  for (let n = 0; n < maxNewTokens; n++) {
    const next = argmax(lastLogits(step.logits, 1, m.vocab, 0));
    tokens.push(next);
    if (n + 1 < maxNewTokens) step = await forward(m, [[next]], { past: step.present });
  }
  return tokens;
}

/**
 * The scheduler's batch on a right-padded (GroupQueryAttention) graph: each prompt is prefilled
 * alone, the caches are stacked with shorter rows zero-padded on the right, then every row decodes
 * one token per step in one run. Returns each row's logits per step and the tokens chosen greedily.
 */
export async function batchedGreedyRightPadded(m: LoadedModel, prompts: number[][], steps: number) {
  const lengths = prompts.map((p) => p.length);
  const prefills = await Promise.all(prompts.map((p) => forward(m, [p])));
  const T = Math.max(...lengths);
  const B = prompts.length;
  let past: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(prefills[0].present)) {
    const out = new Float32Array(B * m.nHead * T * m.headDim);
    prefills.forEach((pre, row) => {
      const src = pre.present[name].data as Float32Array;
      const L = lengths[row];
      for (let h = 0; h < m.nHead; h++) {
        out.set(src.subarray(h * L * m.headDim, (h + 1) * L * m.headDim), ((row * m.nHead + h) * T) * m.headDim);
      }
    });
    past[name] = new ort.Tensor("float32", out, [B, m.nHead, T, m.headDim]);
  }
  const stepLogits: Float32Array[][] = [];
  let next = prefills.map((pre) => argmax(lastLogits(pre.logits, 1, m.vocab, 0)));
  const tokens = prompts.map((p, row) => [...p, next[row]]);
  for (let n = 0; n < steps; n++) {
    const width = (past["present.0.key"].dims[2] as number) + 1;
    const mask = lengths.map((L) => Array.from({ length: width }, (_, i) => (i < L || i === width - 1 ? 1 : 0)));
    const out = await forward(m, next.map((t) => [t]), { mask, positions: lengths.map((L) => [L]), past });
    past = out.present;
    const rows = next.map((_, row) => lastLogits(out.logits, B, m.vocab, row).slice());
    stepLogits.push(rows);
    next = rows.map(argmax);
    next.forEach((t, row) => tokens[row].push(t));
    lengths.forEach((_, row) => lengths[row]++);
  }
  return { stepLogits, tokens };
}
