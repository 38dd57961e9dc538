// One shard's graph (issue 14): transformer blocks [from, to) of the GPT-2 graph gpt2-graph.ts
// builds, cut so that the shards chained give the unsharded graph's numbers bit for bit.
//
// What crosses between shards is the residual stream after a block. Inside one graph that stream is
// carried as (sum, addend) and each addition is fused into the next SkipLayerNormalization, which
// normalizes the sum it forms. At a cut, the shard before it adds the two (Add: the same float sum
// the fused op forms) and the shard after it runs that SkipLayerNormalization on (sum, zeros):
// sum + 0 is the sum again, so it normalizes exactly the numbers the unsharded graph does.
//   first shard   inputs_embeds + position_ids → (adds wpe) → blocks
//   other shards  residual_in → blocks
//   last shard    … → ln_f → hidden_states (every position: LayerNorm is per position, so a
//                  position's numbers do not depend on which others are computed)
//   other shards  … → residual_out
// Keys/values as in the unsharded GroupQueryAttention graph, under the blocks' global numbers:
// past_key_values.<l>.* in, present.<l>.* and new_key_values.<l>.* out (right-padded-append).
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import {
  addAndNorm, addBlocks, ATTENTION_MASK, BATCH, gqaAttention, HIDDEN_STATES, INPUTS_EMBEDS, newKeysName, PAST, pastName, POSITION_IDS, presentName, SEQ, TOTAL,
} from "./gpt2-graph.js";
import { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";
import type { LayerRange } from "./shard-plan.js";
import type { WeightFormat } from "./weight-formats.js";

export const RESIDUAL_IN = "residual_in";
export const RESIDUAL_OUT = "residual_out";

const layersOf = ([from, to]: LayerRange) => Array.from({ length: to - from }, (_, i) => from + i);

export function shardInputNames(range: LayerRange, first: boolean): string[] {
  const past = layersOf(range).flatMap((l) => [pastName(l, "key"), pastName(l, "value")]);
  return first ? [INPUTS_EMBEDS, ATTENTION_MASK, POSITION_IDS, ...past] : [RESIDUAL_IN, ATTENTION_MASK, ...past];
}

export function shardOutputNames(range: LayerRange, last: boolean): string[] {
  const layers = layersOf(range);
  const present = layers.flatMap((l) => [presentName(l, "key"), presentName(l, "value")]);
  const fresh = layers.flatMap((l) => [newKeysName(l, "key"), newKeysName(l, "value")]);
  return [last ? HIDDEN_STATES : RESIDUAL_OUT, ...present, ...fresh];
}

export function buildShardGraph(config: Gpt2Config, weights: Gpt2Weights, format: WeightFormat, range: LayerRange): GraphBuilder {
  const g = new GraphBuilder();
  const { n_layer: L, n_head: H, n_embd: E, layer_norm_epsilon: eps } = config;
  const [from, to] = range;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= L)) {
    throw new Error(`shard blocks [${from}, ${to}) are not a range within n_layer ${L}`);
  }
  const first = from === 0;
  const last = to === L;
  const input = g.input({ name: first ? INPUTS_EMBEDS : RESIDUAL_IN, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] });
  const mask = g.input({ name: ATTENTION_MASK, elemType: DataType.INT64, dims: [BATCH, TOTAL] });
  const positions = first ? g.input({ name: POSITION_IDS, elemType: DataType.INT64, dims: [BATCH, SEQ] }) : "";
  for (const l of layersOf(range)) {
    for (const kind of ["key", "value"] as const) g.input({ name: pastName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, PAST, E / H] });
  }

  let residual: string;
  let addend: string | null;
  if (first) {
    const wpe = g.initializer("wpe.weight", DataType.FLOAT, [config.n_positions, E], weights.wpe);
    residual = g.op1("Add", [input, g.op1("Gather", [wpe, positions], { axis: { i: 0 } })]);
    addend = null;
  } else {
    // Zeros the shape of the input: the first block's SkipLayerNormalization then normalizes the
    // sum it was handed, as in the unsharded graph (see the header).
    residual = input;
    addend = g.op1("ConstantOfShape", [g.op1("Shape", [input])], { value: { t: { dataType: DataType.FLOAT, dims: [1], raw: new Uint8Array(4) } } });
  }
  [residual, addend] = addBlocks(g, config, weights, format, gqaAttention(g, mask, H, E / H), range, residual, addend);

  if (last) {
    const [hidden] = addAndNorm(g, residual, addend, "ln_f", weights.lnF, eps);
    g.op1("Identity", [hidden], {}, { outputs: [HIDDEN_STATES] });
    g.output({ name: HIDDEN_STATES, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] });
  } else {
    g.op1(addend ? "Add" : "Identity", addend ? [residual, addend] : [residual], {}, { outputs: [RESIDUAL_OUT] });
    g.output({ name: RESIDUAL_OUT, elemType: DataType.FLOAT, dims: [BATCH, SEQ, E] });
  }
  for (const l of layersOf(range)) {
    for (const kind of ["key", "value"] as const) g.output({ name: presentName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, TOTAL, E / H] });
  }
  for (const l of layersOf(range)) {
    for (const kind of ["key", "value"] as const) g.output({ name: newKeysName(l, kind), elemType: DataType.FLOAT, dims: [BATCH, H, SEQ, E / H] });
  }
  return g;
}
