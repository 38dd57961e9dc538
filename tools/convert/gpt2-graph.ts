// The GPT-2 decoder graph with KV cache, matching Hugging Face GPT2LMHeadModel numerics and the
// Optimum / transformers.js I/O names. Attention masking combines causality (key j is visible to
// query i iff j <= past + i) with the attention_mask (left padding), built in-graph from shapes.
// By default `logits` holds only the last position ([batch, 1, vocab]); see GraphOptions.
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";
import type { WeightFormat } from "./weight-formats.js";

export const INPUT_IDS = "input_ids";
export const ATTENTION_MASK = "attention_mask";
export const POSITION_IDS = "position_ids";
export const LOGITS = "logits";
/** With `embedding: "external"`: the token embeddings fed in, and the final hidden state returned. */
export const INPUTS_EMBEDS = "inputs_embeds";
export const HIDDEN_STATES = "hidden_states";
export const pastName = (layer: number, kind: "key" | "value") => `past_key_values.${layer}.${kind}`;
export const presentName = (layer: number, kind: "key" | "value") => `present.${layer}.${kind}`;
/** GroupQueryAttention graphs also output the keys/values of just this run's positions
 * [batch, heads, sequence, headDim], so the runtime can append them to a cache it keeps instead
 * of copying the whole `present` out of WASM memory every step. */
export const newKeysName = (layer: number, kind: "key" | "value") => `new_key_values.${layer}.${kind}`;

/** Symbolic dimension names of every graph the converter writes (whole model, shard, block). */
export const BATCH = "batch_size";
export const SEQ = "sequence_length";
export const PAST = "past_sequence_length";
export const TOTAL = "total_sequence_length";
// torch.finfo(float32).min: what transformers puts at masked scores. Using Where with it (instead
// of adding -inf) keeps fully masked rows (queries at left-pad positions) finite, as HF does.
const FLOAT32_LOWEST = -3.4028234663852886e38;

export function graphInputNames(nLayer: number, embedding: EmbeddingPlacement = "graph"): string[] {
  const past = Array.from({ length: nLayer }, (_, l) => [pastName(l, "key"), pastName(l, "value")]).flat();
  return [embedding === "external" ? INPUTS_EMBEDS : INPUT_IDS, ATTENTION_MASK, POSITION_IDS, ...past];
}

export function graphOutputNames(nLayer: number, attention: AttentionKind, embedding: EmbeddingPlacement = "graph"): string[] {
  const present = Array.from({ length: nLayer }, (_, l) => [presentName(l, "key"), presentName(l, "value")]).flat();
  const fresh = Array.from({ length: nLayer }, (_, l) => [newKeysName(l, "key"), newKeysName(l, "value")]).flat();
  return [embedding === "external" ? HIDDEN_STATES : LOGITS, ...present, ...(attention === "gqa" ? fresh : [])];
}

export interface GraphOptions {
  /**
   * "last" (default): logits only for each row's last position, [batch, 1, vocab] — all the decode
   * loop reads, and it skips the lm_head (the largest matmul) for every other prompt position.
   * "all": [batch, sequence, vocab], for teacher-forced accuracy measurements.
   */
  logits?: "last" | "all";
  /**
   * "gqa" (default where the head size allows it): GroupQueryAttention, which attends each row
   * over exactly its own keys (the KV cache is right-padded, lengths come from attention_mask), so
   * a row's numbers do not depend on what else is in the batch. "mha": MultiHeadAttention with an
   * additive mask over a left-padded cache, the layout Optimum exports use; shifting a row by
   * padding regroups the SIMD sums of its softmax, so batched rows drift in the last bits.
   */
  attention?: AttentionKind;
  /**
   * "graph" (default): the graph maps input_ids to logits, token embedding and tied LM head inside.
   * "external": the graph maps `inputs_embeds` [batch, seq, n_embd] (the token embeddings; the
   * position embeddings are still added inside) to `hidden_states` (after ln_f; for
   * every position, whatever `logits` says), and the tied embedding / LM head run outside it
   * (src/engine/lm-head).
   */
  embedding?: EmbeddingPlacement;
}

export type AttentionKind = "gqa" | "mha";
export type EmbeddingPlacement = "graph" | "external";

/** GroupQueryAttention's CPU kernel needs a head size that is a multiple of 8. */
export function defaultAttention(config: Pick<Gpt2Config, "n_embd" | "n_head">): AttentionKind {
  return (config.n_embd / config.n_head) % 8 === 0 ? "gqa" : "mha";
}

// Operators from onnxruntime's com.microsoft domain that have WASM (CPU) kernels: fused attention
// with KV cache, residual add + LayerNorm, tanh GELU. They replace ~15 standard nodes per layer and
// the per-step transposed copy of every layer's keys.
export const MS_DOMAIN = "com.microsoft";

export function buildGpt2Graph(config: Gpt2Config, weights: Gpt2Weights, format: WeightFormat, options: GraphOptions = {}): GraphBuilder {
  const g = new GraphBuilder();
  const { n_layer: L, n_head: H, n_embd: E, vocab_size: V, layer_norm_epsilon: eps } = config;
  const D = E / H;
  const external = options.embedding === "external";
  // With the LM head outside the graph, every position's hidden state is returned: ln_f on a few
  // more rows costs next to nothing here, and the kernel computes logits only for the positions
  // asked for — the last one, or the last k when a step verifies k draft tokens (prompt lookup).
  const lastOnly = !external && (options.logits ?? "last") === "last";
  const attention = options.attention ?? defaultAttention(config);

  // `ids` also gives the graph its batch and sequence sizes (its shape's first two dimensions).
  const ids = external
    ? g.input({ name: INPUTS_EMBEDS, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] })
    : g.input({ name: INPUT_IDS, elemType: DataType.INT64, dims: [BATCH, SEQ] });
  const mask = g.input({ name: ATTENTION_MASK, elemType: DataType.INT64, dims: [BATCH, TOTAL] });
  const positions = g.input({ name: POSITION_IDS, elemType: DataType.INT64, dims: [BATCH, SEQ] });
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"] as const) {
      g.input({ name: pastName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, PAST, D] });
    }
  }

  const wpe = g.initializer("wpe.weight", DataType.FLOAT, [config.n_positions, E], weights.wpe);
  const tokens = external ? ids : format.embedTokens(g, ids);
  // The residual stream is carried as (sum so far, addend not yet added): each addition is fused
  // into the following LayerNorm by SkipLayerNormalization, which also returns the new sum.
  let residual = g.op1("Add", [tokens, g.op1("Gather", [wpe, positions], { axis: { i: 0 } })]);
  let addend: string | null = null;
  const attend = attention === "gqa" ? gqaAttention(g, mask, H, D) : mhaAttention(g, ids, mask, H, D);
  [residual, addend] = addBlocks(g, config, weights, format, attend, [0, L], residual, addend);

  if (lastOnly) {
    // Only the last position's hidden state goes through ln_f and the lm_head.
    const last = (t: string) => g.op1("Slice", [t, g.constI64([-1]), g.constI64([Number.MAX_SAFE_INTEGER]), g.constI64([1])]);
    residual = last(residual);
    if (addend) addend = last(addend);
  }
  const [hidden] = addAndNorm(g, residual, addend, "ln_f", weights.lnF, eps);
  if (external) {
    g.op1("Identity", [hidden], {}, { outputs: [HIDDEN_STATES] });
    g.output({ name: HIDDEN_STATES, elemType: DataType.FLOAT, dims: [BATCH, lastOnly ? 1 : SEQ, E] });
  } else {
    const logitsShape = () =>
      lastOnly ? g.constI64([-1, 1, V]) : g.op1("Concat", [g.op1("Shape", [ids]), g.constI64([V])], { axis: { i: 0 } });
    format.lmHead(g, hidden, logitsShape, LOGITS);
    g.output({ name: LOGITS, elemType: DataType.FLOAT, dims: [BATCH, lastOnly ? 1 : SEQ, V] });
  }
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"] as const) {
      g.output({ name: presentName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, TOTAL, D] });
    }
  }
  if (attention === "gqa") {
    for (let l = 0; l < L; l++) {
      for (const kind of ["key", "value"] as const) {
        g.output({ name: newKeysName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, SEQ, D] });
      }
    }
  }
  return g;
}

export type Attend = (qkv: string, layer: number) => string;

/**
 * Transformer blocks [from, to) on the residual stream, carried as (sum so far, addend not yet
 * added); returns the stream after the last block in the same form.
 */
export function addBlocks(
  g: GraphBuilder,
  config: Gpt2Config,
  weights: Gpt2Weights,
  format: WeightFormat,
  attend: Attend,
  [from, to]: [number, number],
  residual: string,
  addend: string | null,
): [residual: string, addend: string | null] {
  const { n_embd: E, layer_norm_epsilon: eps } = config;
  for (let l = from; l < to; l++) {
    const w = weights.layers[l];
    const p = `h.${l}`;
    let h: string;
    [h, residual] = addAndNorm(g, residual, addend, `${p}.ln_1`, w.ln1, eps);
    const qkv = format.linear(g, h, `${p}.attn.c_attn`, w.attnQkv.weight, w.attnQkv.bias, E, 3 * E);
    const context = attend(qkv, l);
    const attnOut = format.linear(g, context, `${p}.attn.c_proj`, w.attnProj.weight, w.attnProj.bias, E, E);
    [h, residual] = addAndNorm(g, residual, attnOut, `${p}.ln_2`, w.ln2, eps);
    const fc = format.linear(g, h, `${p}.mlp.c_fc`, w.mlpFc.weight, w.mlpFc.bias, E, config.n_inner);
    const act = g.op1(config.activation === "gelu" ? "Gelu" : "FastGelu", [fc], {}, { domain: MS_DOMAIN });
    addend = format.linear(g, act, `${p}.mlp.c_proj`, w.mlpProj.weight, w.mlpProj.bias, config.n_inner, E);
  }
  return [residual, addend];
}

/**
 * GroupQueryAttention (with as many key/value heads as query heads: plain multi-head attention)
 * over a right-padded cache: row b's keys are positions [0, len_b) and its new keys are written at
 * len_b. len_b comes from the attention mask's count of ones, so the graph keeps the usual inputs.
 */
export function gqaAttention(g: GraphBuilder, mask: string, H: number, D: number): Attend {
  const int32 = { to: { i: DataType.INT32 } };
  const lengths = g.op1("ReduceSum", [mask, g.constI64([1])], { keepdims: { i: 0 } }); // [B]
  const seqlensK = g.op1("Cast", [g.op1("Sub", [lengths, g.constI64([1], [])])], int32);
  const total = g.op1("Cast", [g.op1("Gather", [g.op1("Shape", [mask]), g.constI64([1])], { axis: { i: 0 } })], int32); // [1]
  return (qkv, l) => {
    const [context] = g.op(
      "GroupQueryAttention",
      [qkv, "", "", pastName(l, "key"), pastName(l, "value"), seqlensK, total],
      { num_heads: { i: H }, kv_num_heads: { i: H } },
      { domain: MS_DOMAIN, outputs: [`h.${l}.attn.context`, presentName(l, "key"), presentName(l, "value")] },
    );
    // The new positions' keys and values as GroupQueryAttention stores them: qkv's k and v
    // thirds, [batch, seq, heads·D] → [batch, heads, seq, D]. Plain copies of the same numbers.
    ([["key", 1], ["value", 2]] as const).forEach(([kind, third]) => {
      const part = g.op1("Slice", [qkv, g.constI64([third * H * D]), g.constI64([(third + 1) * H * D]), g.constI64([2])]);
      const heads = g.op1("Reshape", [part, g.constI64([0, 0, H, D])]);
      g.op("Transpose", [heads], { perm: { ints: [0, 2, 1, 3] } }, { outputs: [newKeysName(l, kind)] });
    });
    return context;
  };
}

/** MultiHeadAttention: q·kᵀ/√D + bias, softmax, ·v; past and new keys/values concatenated. */
function mhaAttention(g: GraphBuilder, ids: string, mask: string, H: number, D: number): Attend {
  const attentionBias = buildAttentionBias(g, ids, mask);
  return (qkv, l) => {
    const [q, k, v] = g.op("Split", [qkv], { axis: { i: 2 } }, { count: 3 });
    const [context] = g.op(
      "MultiHeadAttention",
      [q, k, v, "", "", attentionBias, pastName(l, "key"), pastName(l, "value")],
      { num_heads: { i: H }, scale: { f: 1 / Math.sqrt(D) } },
      { domain: MS_DOMAIN, outputs: [`h.${l}.attn.context`, presentName(l, "key"), presentName(l, "value")] },
    );
    return context;
  };
}

/**
 * float [B, 1, S, T], added to the attention scores: 0 where query i (absolute position past+i)
 * may attend to key j (causal and not left padding), float32's lowest value elsewhere. Adding it
 * leaves masked scores at exactly that value (scores are far below its rounding step), as
 * transformers' masked_fill does, so fully masked rows (left-pad queries) stay finite and uniform.
 */
function buildAttentionBias(g: GraphBuilder, ids: string, mask: string): string {
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
  const visible = g.op1("And", [causal, keep4d]); // [B, 1, S, T]
  return g.op1("Where", [visible, g.constF32([0], []), g.constF32([FLOAT32_LOWEST], [])]);
}

/** LayerNorm(residual + addend) and the new residual (residual alone when there is no addend). */
export function addAndNorm(
  g: GraphBuilder,
  residual: string,
  addend: string | null,
  name: string,
  w: { gamma: Float32Array; beta: Float32Array },
  eps: number,
): [normed: string, residual: string] {
  const gamma = g.initializer(`${name}.weight`, DataType.FLOAT, [w.gamma.length], w.gamma);
  const beta = g.initializer(`${name}.bias`, DataType.FLOAT, [w.beta.length], w.beta);
  if (addend === null) {
    return [g.op1("LayerNormalization", [residual, gamma, beta], { axis: { i: -1 }, epsilon: { f: eps } }), residual];
  }
  const [normed, , , sum] = g.op("SkipLayerNormalization", [residual, addend, gamma, beta], { epsilon: { f: eps } }, { domain: MS_DOMAIN, count: 4 });
  return [normed, sum];
}

