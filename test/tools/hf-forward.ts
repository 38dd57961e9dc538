// A plain TypeScript float32 GPT-2 forward pass with Hugging Face GPT2LMHeadModel's semantics
// (gelu_new, LayerNorm eps from config, Conv1D x @ W + b, lm_head tied to wte), written apart from
// the converter on purpose — its own safetensors reading, no ONNX, no shared helpers — so it can
// serve as an independent fp32 reference: it is checked against transformers' own logits
// (../shared/reference/*.logits.bin) and then produces fixtures for checkpoints transformers never
// saw (the synthetic outlier checkpoint).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface HfModel {
  layers: number;
  heads: number;
  embd: number;
  vocab: number;
  eps: number;
  tensor(name: string): Float32Array;
}

export function loadHfModel(dir: string): HfModel {
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const bytes = readFileSync(join(dir, "model.safetensors"));
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  const start = 8 + headerLength;
  const tensor = (name: string): Float32Array => {
    const entry = header[`transformer.${name}`] ?? header[name];
    if (!entry || entry.dtype !== "F32") throw new Error(`hf-forward: no F32 tensor ${name} in ${dir}`);
    const [from, to] = entry.data_offsets as [number, number];
    const copy = bytes.subarray(start + from, start + to);
    return new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength));
  };
  return { layers: config.n_layer, heads: config.n_head, embd: config.n_embd, vocab: config.vocab_size, eps: config.layer_norm_epsilon ?? 1e-5, tensor };
}

/** Called with each linear's input [S, K] (for activation statistics). */
export type LinearObserver = (name: string, input: Float32Array, K: number) => void;

/**
 * Logits [S, V] for every position of `ids` (or only the last one with lastOnly: [1, V]).
 */
export function hfForward(m: HfModel, ids: number[], opts: { lastOnly?: boolean; observe?: LinearObserver } = {}): Float32Array {
  const { embd: E, heads: H, vocab: V } = m;
  const S = ids.length;
  const D = E / H;
  const wte = m.tensor("wte.weight");
  const wpe = m.tensor("wpe.weight");
  const h = new Float32Array(S * E);
  for (let s = 0; s < S; s++) for (let e = 0; e < E; e++) h[s * E + e] = wte[ids[s] * E + e] + wpe[s * E + e];

  const linear = (name: string, x: Float32Array, K: number, N: number): Float32Array => {
    opts.observe?.(name, x, K);
    const w = m.tensor(`${name}.weight`);
    const b = m.tensor(`${name}.bias`);
    const y = new Float32Array(S * N);
    const acc = new Float64Array(N);
    for (let s = 0; s < S; s++) {
      acc.set(b);
      for (let k = 0; k < K; k++) {
        const xv = x[s * K + k];
        if (xv === 0) continue;
        const row = k * N;
        for (let n = 0; n < N; n++) acc[n] += xv * w[row + n];
      }
      y.set(acc, s * N);
    }
    return y;
  };

  for (let l = 0; l < m.layers; l++) {
    const p = `h.${l}`;
    const qkv = linear(`${p}.attn.c_attn`, layerNorm(m, `${p}.ln_1`, h, S), E, 3 * E);
    const context = new Float32Array(S * E);
    const scores = new Float64Array(S);
    for (let head = 0; head < H; head++) {
      for (let i = 0; i < S; i++) {
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qkv[i * 3 * E + head * D + d] * qkv[j * 3 * E + E + head * D + d];
          scores[j] = dot / Math.sqrt(D);
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let d = 0; d < D; d++) {
          let v = 0;
          for (let j = 0; j <= i; j++) v += scores[j] * qkv[j * 3 * E + 2 * E + head * D + d];
          context[i * E + head * D + d] = v / sum;
        }
      }
    }
    addInto(h, linear(`${p}.attn.c_proj`, context, E, E));
    const fc = linear(`${p}.mlp.c_fc`, layerNorm(m, `${p}.ln_2`, h, S), E, 4 * E);
    for (let i = 0; i < fc.length; i++) fc[i] = geluNew(fc[i]);
    addInto(h, linear(`${p}.mlp.c_proj`, fc, 4 * E, E));
  }

  const normed = layerNorm(m, "ln_f", h, S);
  const first = opts.lastOnly ? S - 1 : 0;
  const logits = new Float32Array((S - first) * V);
  for (let s = first; s < S; s++) {
    const row = normed.subarray(s * E, (s + 1) * E);
    for (let v = 0; v < V; v++) {
      let dot = 0;
      for (let e = 0; e < E; e++) dot += row[e] * wte[v * E + e];
      logits[(s - first) * V + v] = dot;
    }
  }
  return logits;
}

function layerNorm(m: HfModel, name: string, x: Float32Array, S: number): Float32Array {
  const E = m.embd;
  const gamma = m.tensor(`${name}.weight`);
  const beta = m.tensor(`${name}.bias`);
  const y = new Float32Array(S * E);
  for (let s = 0; s < S; s++) {
    let mean = 0;
    for (let e = 0; e < E; e++) mean += x[s * E + e];
    mean /= E;
    let variance = 0;
    for (let e = 0; e < E; e++) variance += (x[s * E + e] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / E + m.eps);
    for (let e = 0; e < E; e++) y[s * E + e] = (x[s * E + e] - mean) * inv * gamma[e] + beta[e];
  }
  return y;
}

function addInto(h: Float32Array, y: Float32Array): void {
  for (let i = 0; i < h.length; i++) h[i] += y[i];
}

/** transformers' NewGELUActivation (tanh approximation). */
function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}
