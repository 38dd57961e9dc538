// The graphs of a model whose blocks' MLPs run in the engine's int8 kernel (issue 13): onnxruntime
// cannot call out of a graph, so the one-graph model is cut around each MLP — n_layer graphs of
// "block l up to its MLP" and one of ln_f — and the kernel computes each MLP between two runs.
//
// The cuts keep the one-graph model's numbers bit for bit. Inside one graph the residual stream is
// carried as (sum, addend) and each addition is fused into the next SkipLayerNormalization; here
// the MLP's output is that addend, handed to the next graph as `addend_in` beside the stream
// (`residual_in`), and the same SkipLayerNormalization adds and normalizes the two.
//   graph l < n_layer  inputs_embeds + position_ids (l = 0) or residual_in + addend_in
//                      → ln_1, attention, c_proj, ln_2 → mlp_in (ln_2's output), residual_out
//   graph n_layer      residual_in + addend_in → ln_f → hidden_states (every position)
// Keys/values as in the one-graph GroupQueryAttention model: past_key_values.<l>.* in,
// present.<l>.* and new_key_values.<l>.* out.
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import {
  addAndNorm, ATTENTION_MASK, BATCH, gqaAttention, HIDDEN_STATES, INPUTS_EMBEDS, newKeysName, PAST, pastName, POSITION_IDS, presentName, SEQ, TOTAL,
} from "./gpt2-graph.js";
import { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";
import type { WeightFormat } from "./weight-formats.js";

export const RESIDUAL_IN = "residual_in";
export const ADDEND_IN = "addend_in";
export const RESIDUAL_OUT = "residual_out";
export const MLP_IN = "mlp_in";

/** The file name of graph `index` (n_layer + 1 of them; their weights are `<name>.data`). */
export const layerGraphFile = (index: number) => `layer-${String(index).padStart(2, "0")}.onnx`;

/** Block `l` from its first LayerNorm to ln_2: its attention half, with the MLP's input as output. */
export function buildLayerGraph(config: Gpt2Config, weights: Gpt2Weights, format: WeightFormat, l: number): GraphBuilder {
  const { n_layer: L, n_head: H, n_embd: E, layer_norm_epsilon: eps } = config;
  if (!(Number.isInteger(l) && 0 <= l && l < L)) throw new Error(`block ${l} is not within n_layer ${L}`);
  const g = new GraphBuilder();
  let residual: string;
  let addend: string | null;
  if (l === 0) {
    const embeds = g.input({ name: INPUTS_EMBEDS, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] });
    const positions = g.input({ name: POSITION_IDS, elemType: DataType.INT64, dims: [BATCH, SEQ] });
    const wpe = g.initializer("wpe.weight", DataType.FLOAT, [config.n_positions, E], weights.wpe);
    residual = g.op1("Add", [embeds, g.op1("Gather", [wpe, positions], { axis: { i: 0 } })]);
    addend = null;
  } else {
    [residual, addend] = streamInputs(g, E);
  }
  const mask = g.input({ name: ATTENTION_MASK, elemType: DataType.INT64, dims: [BATCH, TOTAL] });
  for (const kind of ["key", "value"] as const) g.input({ name: pastName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, PAST, E / H] });

  // addBlocks (gpt2-graph.ts) up to the MLP, node for node.
  const w = weights.layers[l];
  const p = `h.${l}`;
  let h: string;
  [h, residual] = addAndNorm(g, residual, addend, `${p}.ln_1`, w.ln1, eps);
  const qkv = format.linear(g, h, `${p}.attn.c_attn`, w.attnQkv.weight, w.attnQkv.bias, E, 3 * E);
  const context = gqaAttention(g, mask, H, E / H)(qkv, l);
  const attnOut = format.linear(g, context, `${p}.attn.c_proj`, w.attnProj.weight, w.attnProj.bias, E, E);
  [h, residual] = addAndNorm(g, residual, attnOut, `${p}.ln_2`, w.ln2, eps);

  g.op1("Identity", [h], {}, { outputs: [MLP_IN] });
  g.op1("Identity", [residual], {}, { outputs: [RESIDUAL_OUT] });
  g.output({ name: MLP_IN, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] });
  g.output({ name: RESIDUAL_OUT, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] });
  for (const kind of ["key", "value"] as const) g.output({ name: presentName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, TOTAL, E / H] });
  for (const kind of ["key", "value"] as const) g.output({ name: newKeysName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, SEQ, E / H] });
  return g;
}

/** ln_f on the stream after the last block's MLP: the model's hidden_states for every position. */
export function buildFinalNormGraph(config: Gpt2Config, weights: Gpt2Weights): GraphBuilder {
  const g = new GraphBuilder();
  const [residual, addend] = streamInputs(g, config.n_embd);
  const [hidden] = addAndNorm(g, residual, addend, "ln_f", weights.lnF, config.layer_norm_epsilon);
  g.op1("Identity", [hidden], {}, { outputs: [HIDDEN_STATES] });
  g.output({ name: HIDDEN_STATES, elemType: DataType.FLOAT, dims: [BATCH, SEQ, config.n_embd] });
  return g;
}

function streamInputs(g: GraphBuilder, E: number): [residual: string, addend: string] {
  return [
    g.input({ name: RESIDUAL_IN, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] }),
    g.input({ name: ADDEND_IN, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] }),
  ];
}
