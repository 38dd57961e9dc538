// Writes a GPT-2-architecture checkpoint with seeded random weights in Hugging Face's file layout
// (config.json, generation_config.json, model.safetensors as save_pretrained writes it), so the
// converter and runtime can be exercised at any size without real weights.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeSafetensorsF32 } from "../lib/safetensors.js";
import { injectOutliers, type OutlierOptions } from "./outliers.js";
import { mulberry32, normalSampler } from "./prng.js";

export interface SynthOptions {
  layers: number;
  embd: number;
  heads: number;
  seed: number;
  outDir: string;
  positions?: number;
  vocab?: number;
  /** Use the save_pretrained "transformer." name prefix (default true). */
  prefixed?: boolean;
  /** Add GPT-2-like activation outliers (see outliers.ts); default none. */
  outliers?: OutlierOptions;
}

const EOS = 50256;

export async function writeSyntheticCheckpoint(opts: SynthOptions): Promise<void> {
  const { layers, embd: E, heads, seed } = opts;
  const P = opts.positions ?? 1024;
  const V = opts.vocab ?? 50257;
  for (const [key, v] of Object.entries({ layers, embd: E, heads, positions: P, vocab: V })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`synth: ${key} must be a positive integer, got ${v}`);
  }
  if (E % heads !== 0) throw new Error(`synth: embd ${E} is not divisible by heads ${heads}`);
  const normal = normalSampler(mulberry32(seed));
  // Standard deviations follow the reference tiny checkpoints (measured there at n_embd 64), with
  // matrices scaled by 1/sqrt(fan_in) so wider models keep the same activation scale. They are far
  // above GPT-2's 0.02 init on purpose: greedy decoding then moves between many tokens instead of
  // repeating one, and top-1/top-2 margins stay well above float32 noise.
  const fan = (std: number, fanIn: number, refFanIn: number) => std * Math.sqrt(refFanIn / fanIn);
  const tensor = (shape: number[], std: number, mean = 0) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * normal();
    return data;
  };

  const prefix = opts.prefixed === false ? "" : "transformer.";
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  const add = (name: string, shape: number[], std: number, mean = 0) =>
    tensors.push({ name: prefix + name, shape, data: tensor(shape, std, mean) });
  const I = 4 * E;
  add("wte.weight", [V, E], 0.3);
  add("wpe.weight", [P, E], 0.1);
  for (let l = 0; l < layers; l++) {
    const p = `h.${l}.`;
    add(p + "ln_1.weight", [E], 0.1, 1);
    add(p + "ln_1.bias", [E], 0.05);
    add(p + "attn.c_attn.weight", [E, 3 * E], fan(0.2, E, 64));
    add(p + "attn.c_attn.bias", [3 * E], 0.02);
    add(p + "attn.c_proj.weight", [E, E], fan(0.3, E, 64));
    add(p + "attn.c_proj.bias", [E], 0.02);
    add(p + "ln_2.weight", [E], 0.1, 1);
    add(p + "ln_2.bias", [E], 0.05);
    add(p + "mlp.c_fc.weight", [E, I], fan(0.2, E, 64));
    add(p + "mlp.c_fc.bias", [I], 0.02);
    add(p + "mlp.c_proj.weight", [I, E], fan(0.3, I, 256));
    add(p + "mlp.c_proj.bias", [E], 0.02);
  }
  add("ln_f.weight", [E], 0.1, 1);
  add("ln_f.bias", [E], 0.05);
  // A generator of its own, so the plain weights are the same with and without outliers.
  if (opts.outliers) injectOutliers(tensors, layers, E, opts.outliers, mulberry32((seed ^ 0x5eed0017) >>> 0));
  // The safetensors library writes tensors sorted by name; do the same for byte-for-byte stability.
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  await mkdir(opts.outDir, { recursive: true });
  await writeAtomic(join(opts.outDir, "config.json"), JSON.stringify(config(layers, E, heads, P, V), null, 2) + "\n");
  await writeAtomic(join(opts.outDir, "generation_config.json"), JSON.stringify(generationConfig(), null, 2) + "\n");
  await writeAtomic(join(opts.outDir, "model.safetensors"), encodeSafetensorsF32(tensors));
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFile(path + ".tmp", data);
  await rename(path + ".tmp", path);
}

/** The same keys transformers writes for GPT2LMHeadModel (see the reference tiny checkpoints). */
function config(nLayer: number, nEmbd: number, nHead: number, nPositions: number, vocab: number) {
  return {
    activation_function: "gelu_new",
    add_cross_attention: false,
    architectures: ["GPT2LMHeadModel"],
    attn_pdrop: 0.1,
    bos_token_id: EOS,
    dtype: "float32",
    embd_pdrop: 0.1,
    eos_token_id: EOS,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: "gpt2",
    n_embd: nEmbd,
    n_head: nHead,
    n_inner: null,
    n_layer: nLayer,
    n_positions: nPositions,
    pad_token_id: null,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: "cls_index",
    summary_use_proj: true,
    tie_word_embeddings: true,
    transformers_version: "5.18.0",
    use_cache: true,
    vocab_size: vocab,
  };
}

function generationConfig() {
  return {
    _from_model_config: true,
    bos_token_id: EOS,
    eos_token_id: EOS,
    output_attentions: false,
    output_hidden_states: false,
    transformers_version: "5.18.0",
    use_cache: true,
  };
}
