// The GPT-2 decoder graph with KV cache, matching Hugging Face GPT2LMHeadModel numerics and the
// Optimum / transformers.js I/O names. Attention masking combines causality (key j is visible to
// query i iff j <= past + i) with the attention_mask (left padding), built in-graph from shapes.
import type { Gpt2Config, Gpt2Weights, LayerWeights } from "./checkpoint.js";
import { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";
import type { WeightFormat } from "./weight-formats.js";

export const INPUT_IDS = "input_ids";
export const ATTENTION_MASK = "attention_mask";
export const POSITION_IDS = "position_ids";
export const LOGITS = "logits";
export const pastName = (layer: number, kind: "key" | "value") => `past_key_values.${layer}.${kind}`;
export const presentName = (layer: number, kind: "key" | "value") => `present.${layer}.${kind}`;

const BATCH = "batch_size";
const SEQ = "sequence_length";
const PAST = "past_sequence_length";
const TOTAL = "total_sequence_length";
// torch.finfo(float32).min: what transformers puts at masked scores. Using Where with it (instead
// of adding -inf) keeps fully masked rows (queries at left-pad positions) finite, as HF does.
const FLOAT32_LOWEST = -3.4028234663852886e38;

export function graphInputNames(nLayer: number): string[] {
  const past = Array.from({ length: nLayer }, (_, l) => [pastName(l, "key"), pastName(l, "value")]).flat();
  return [INPUT_IDS, ATTENTION_MASK, POSITION_IDS, ...past];
}

export function graphOutputNames(nLayer: number): string[] {
  const present = Array.from({ length: nLayer }, (_, l) => [presentName(l, "key"), presentName(l, "value")]).flat();
  return [LOGITS, ...present];
}

export function buildGpt2Graph(config: Gpt2Config, weights: Gpt2Weights, format: WeightFormat): GraphBuilder {
  const g = new GraphBuilder();
  const { n_layer: L, n_head: H, n_embd: E, vocab_size: V } = config;
  const D = E / H;

  const ids = g.input({ name: INPUT_IDS, elemType: DataType.INT64, dims: [BATCH, SEQ] });
  const mask = g.input({ name: ATTENTION_MASK, elemType: DataType.INT64, dims: [BATCH, TOTAL] });
  const positions = g.input({ name: POSITION_IDS, elemType: DataType.INT64, dims: [BATCH, SEQ] });
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"] as const) {
      g.input({ name: pastName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, PAST, D] });
    }
  }

  const wpe = g.initializer("wpe.weight", DataType.FLOAT, [config.n_positions, E], weights.wpe);
  const tokens = format.embedTokens(g, ids);
  let x = g.op1("Add", [tokens, g.op1("Gather", [wpe, positions], { axis: { i: 0 } })]);

  const visible = buildVisibility(g, ids, mask);
  const lowest = g.constF32([FLOAT32_LOWEST], []);
  const headsShape = g.constI64([0, 0, H, D]);
  const mergedShape = g.constI64([0, 0, E]);
  const scale = g.constF32([Math.sqrt(D)], []);

  weights.layers.forEach((layer, l) => {
    x = block(g, format, config, layer, l, x, { visible, lowest, headsShape, mergedShape, scale });
  });

  const h = layerNorm(g, x, "ln_f", weights.lnF, config.layer_norm_epsilon);
  const logitsShape = g.op1("Concat", [g.op1("Shape", [ids]), g.constI64([V])], { axis: { i: 0 } });
  format.lmHead(g, h, logitsShape, LOGITS);

  g.output({ name: LOGITS, elemType: DataType.FLOAT, dims: [BATCH, SEQ, V] });
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"] as const) {
      g.output({ name: presentName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, TOTAL, D] });
    }
  }
  return g;
}

/** bool [B, 1, S, T]: true where query i (absolute position past+i) may attend to key j. */
function buildVisibility(g: GraphBuilder, ids: string, mask: string): string {
  const axis0 = { axis: { i: 0 } };
  const one = g.constI64([1], []);
  const zero = g.constI64([0], []);
  const seq = g.op1("Gather", [g.op1("Shape", [ids]), one], axis0); // S (scalar)
  const total = g.op1("Gather", [g.op1("Shape", [mask]), one], axis0); // T = past + S (scalar)
  const past = g.op1("Sub", [total, seq]);
  const queryPos = g.op1("Add", [g.op1("Range", [zero, seq, one]), past]); // [S]
  const keyPos = g.op1("Range", [zero, total, one]); // [T]
  const causal = g.op1("LessOrEqual", [keyPos, g.op1("Unsqueeze", [queryPos, g.constI64([1])])]); // [S, T]
  const keep = g.op1("Cast", [mask], { to: { i: DataType.BOOL } }); // [B, T]
  const keep4d = g.op1("Unsqueeze", [keep, g.constI64([1, 2])]); // [B, 1, 1, T]
  return g.op1("And", [causal, keep4d]);
}

interface Shared {
  visible: string;
  lowest: string;
  headsShape: string;
  mergedShape: string;
  scale: string;
}

function block(g: GraphBuilder, format: WeightFormat, config: Gpt2Config, w: LayerWeights, l: number, x: string, s: Shared): string {
  const { n_embd: E, n_inner: I, layer_norm_epsilon: eps } = config;
  const p = `h.${l}`;

  // Attention: Conv1D c_attn gives [B, S, 3E] = q | k | v.
  const h1 = layerNorm(g, x, `${p}.ln_1`, w.ln1, eps);
  const qkv = format.linear(g, h1, `${p}.attn.c_attn`, w.attnQkv.weight, w.attnQkv.bias, E, 3 * E);
  const [q, k, v] = g.op("Split", [qkv], { axis: { i: 2 } }, { count: 3 });
  const toHeads = (t: string) => g.op1("Transpose", [g.op1("Reshape", [t, s.headsShape])], { perm: { ints: [0, 2, 1, 3] } });
  const present = (t: string, kind: "key" | "value") =>
    g.op1("Concat", [pastName(l, kind), toHeads(t)], { axis: { i: 2 } }, { outputs: [presentName(l, kind)] });
  const keys = present(k, "key"); // [B, H, T, D]
  const values = present(v, "value");
  const keysT = g.op1("Transpose", [keys], { perm: { ints: [0, 1, 3, 2] } });
  // Divide by sqrt(D) after q·k as transformers' eager attention does.
  const scores = g.op1("Div", [g.op1("MatMul", [toHeads(q), keysT]), s.scale]); // [B, H, S, T]
  const masked = g.op1("Where", [s.visible, scores, s.lowest]);
  const probs = g.op1("Softmax", [masked], { axis: { i: -1 } });
  const context = g.op1("MatMul", [probs, values]); // [B, H, S, D]
  const merged = g.op1("Reshape", [g.op1("Transpose", [context], { perm: { ints: [0, 2, 1, 3] } }), s.mergedShape]);
  const attnOut = format.linear(g, merged, `${p}.attn.c_proj`, w.attnProj.weight, w.attnProj.bias, E, E);
  x = g.op1("Add", [x, attnOut]);

  // MLP.
  const h2 = layerNorm(g, x, `${p}.ln_2`, w.ln2, eps);
  const fc = format.linear(g, h2, `${p}.mlp.c_fc`, w.mlpFc.weight, w.mlpFc.bias, E, I);
  const act = config.activation === "gelu" ? geluErf(g, fc) : geluTanh(g, fc);
  const mlpOut = format.linear(g, act, `${p}.mlp.c_proj`, w.mlpProj.weight, w.mlpProj.bias, I, E);
  return g.op1("Add", [x, mlpOut]);
}

function layerNorm(g: GraphBuilder, x: string, name: string, w: { gamma: Float32Array; beta: Float32Array }, eps: number): string {
  const gamma = g.initializer(`${name}.weight`, DataType.FLOAT, [w.gamma.length], w.gamma);
  const beta = g.initializer(`${name}.bias`, DataType.FLOAT, [w.beta.length], w.beta);
  return g.op1("LayerNormalization", [x, gamma, beta], { axis: { i: -1 }, epsilon: { f: eps } });
}

/** gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — opset 17 has no Gelu op. */
function geluTanh(g: GraphBuilder, x: string): string {
  const cube = g.op1("Mul", [g.op1("Mul", [x, x]), x]);
  const inner = g.op1("Add", [x, g.op1("Mul", [cube, g.constF32([0.044715], [])])]);
  const t = g.op1("Tanh", [g.op1("Mul", [inner, g.constF32([Math.sqrt(2 / Math.PI)], [])])]);
  return g.op1("Mul", [g.op1("Mul", [x, g.constF32([0.5], [])]), g.op1("Add", [t, g.constF32([1], [])])]);
}

/** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
function geluErf(g: GraphBuilder, x: string): string {
  const e = g.op1("Erf", [g.op1("Div", [x, g.constF32([Math.SQRT2], [])])]);
  return g.op1("Mul", [g.op1("Mul", [x, g.constF32([0.5], [])]), g.op1("Add", [e, g.constF32([1], [])])]);
}
