// Loads a Hugging Face GPT-2 checkpoint folder (config.json + model.safetensors) into plain
// float32 arrays with validated shapes. Accepts both tensor-name layouts seen in the wild:
// `save_pretrained` ("transformer.h.0...") and the original openai-community/gpt2 file ("h.0...").
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { openSafetensors, type SafetensorsFile } from "../lib/safetensors.js";

export interface Gpt2Config {
  n_layer: number;
  n_head: number;
  n_embd: number;
  n_positions: number;
  n_inner: number;
  vocab_size: number;
  layer_norm_epsilon: number;
  bos_token_id: number;
  eos_token_id: number;
  /** gelu_new = tanh approximation (GPT-2); gelu = exact erf form. */
  activation: "gelu_new" | "gelu";
}

export interface LayerWeights {
  ln1: { gamma: Float32Array; beta: Float32Array };
  attnQkv: { weight: Float32Array; bias: Float32Array }; // Conv1D [E, 3E]
  attnProj: { weight: Float32Array; bias: Float32Array }; // [E, E]
  ln2: { gamma: Float32Array; beta: Float32Array };
  mlpFc: { weight: Float32Array; bias: Float32Array }; // [E, inner]
  mlpProj: { weight: Float32Array; bias: Float32Array }; // [inner, E]
}

export interface Gpt2Weights {
  wte: Float32Array; // [V, E]
  wpe: Float32Array; // [P, E]
  layers: LayerWeights[];
  lnF: { gamma: Float32Array; beta: Float32Array };
}

export interface Checkpoint {
  config: Gpt2Config;
  weights: Gpt2Weights;
  configBytes: Uint8Array;
  weightsPath: string;
}

export async function readGpt2Config(dir: string): Promise<{ config: Gpt2Config; bytes: Uint8Array }> {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new Error(`${dir}: missing config.json (expected a Hugging Face GPT-2 checkpoint folder)`);
  const bytes = await readFile(path);
  const raw = JSON.parse(bytes.toString("utf8"));
  if (raw.model_type !== "gpt2") throw new Error(`${path}: model_type is ${JSON.stringify(raw.model_type)}, only "gpt2" is supported`);
  const activation = raw.activation_function ?? "gelu_new";
  // transformers maps "gelu" to the exact erf GELU and "gelu_new" to the tanh approximation;
  // the graph emits whichever the checkpoint was trained with.
  if (activation !== "gelu_new" && activation !== "gelu") {
    throw new Error(`${path}: activation_function ${activation} is not supported (gelu_new or gelu)`);
  }
  if (raw.scale_attn_by_inverse_layer_idx) throw new Error(`${path}: scale_attn_by_inverse_layer_idx=true is not supported`);
  if (raw.reorder_and_upcast_attn) throw new Error(`${path}: reorder_and_upcast_attn=true is not supported`);
  if (raw.scale_attn_weights === false) throw new Error(`${path}: scale_attn_weights=false is not supported`);
  if (raw.add_cross_attention) throw new Error(`${path}: add_cross_attention=true is not supported`);
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${path}: ${key} missing or not a number`);
    return v;
  };
  const config: Gpt2Config = {
    n_layer: num("n_layer"),
    n_head: num("n_head"),
    n_embd: num("n_embd"),
    n_positions: num("n_positions", raw.n_ctx),
    n_inner: raw.n_inner == null ? 4 * num("n_embd") : num("n_inner"),
    vocab_size: num("vocab_size"),
    layer_norm_epsilon: num("layer_norm_epsilon", 1e-5),
    bos_token_id: num("bos_token_id", 50256),
    eos_token_id: num("eos_token_id", 50256),
    activation,
  };
  if (config.n_embd % config.n_head !== 0) throw new Error(`${path}: n_embd ${config.n_embd} is not divisible by n_head ${config.n_head}`);
  return { config, bytes };
}

// Buffers that transformers stores next to weights but that carry no learned values.
const IGNORED = /^h\.\d+\.attn\.(masked_bias|bias)$/;

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const { config, bytes } = await readGpt2Config(dir);
  const weightsPath = join(dir, "model.safetensors");
  if (!existsSync(weightsPath)) throw new Error(`${dir}: missing model.safetensors (only the safetensors format is supported)`);
  const file = await openSafetensors(weightsPath);

  // Map canonical (unprefixed) names to the names in the file.
  const byName = new Map<string, string>();
  for (const name of file.names) {
    const canonical = name.startsWith("transformer.") ? name.slice("transformer.".length) : name;
    if (IGNORED.test(canonical)) continue;
    byName.set(canonical, name);
  }
  const { n_embd: E, n_inner: I, vocab_size: V, n_positions: P } = config;
  const take = (name: string, shape: number[]): Float32Array => read(file, byName, name, shape);

  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.n_layer; l++) {
    const p = `h.${l}.`;
    layers.push({
      ln1: { gamma: take(p + "ln_1.weight", [E]), beta: take(p + "ln_1.bias", [E]) },
      attnQkv: { weight: take(p + "attn.c_attn.weight", [E, 3 * E]), bias: take(p + "attn.c_attn.bias", [3 * E]) },
      attnProj: { weight: take(p + "attn.c_proj.weight", [E, E]), bias: take(p + "attn.c_proj.bias", [E]) },
      ln2: { gamma: take(p + "ln_2.weight", [E]), beta: take(p + "ln_2.bias", [E]) },
      mlpFc: { weight: take(p + "mlp.c_fc.weight", [E, I]), bias: take(p + "mlp.c_fc.bias", [I]) },
      mlpProj: { weight: take(p + "mlp.c_proj.weight", [I, E]), bias: take(p + "mlp.c_proj.bias", [E]) },
    });
  }
  const weights: Gpt2Weights = {
    wte: take("wte.weight", [V, E]),
    wpe: take("wpe.weight", [P, E]),
    layers,
    lnF: { gamma: take("ln_f.weight", [E]), beta: take("ln_f.bias", [E]) },
  };
  if (file.info("lm_head.weight")) {
    // GPT-2 ties lm_head to wte; the graph reuses wte, so an untied head would be silently wrong.
    const head = read(file, new Map([["lm_head.weight", "lm_head.weight"]]), "lm_head.weight", [V, E]);
    if (!sameValues(head, weights.wte)) throw new Error(`${weightsPath}: lm_head.weight differs from wte.weight; untied heads are not supported`);
  }
  const left = [...byName.keys()].filter((n) => !n.startsWith("h.") && !["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"].includes(n));
  const extraLayers = [...byName.keys()].filter((n) => /^h\.(\d+)\./.test(n) && Number(n.split(".")[1]) >= config.n_layer);
  if (left.length || extraLayers.length) {
    throw new Error(`${weightsPath}: unexpected tensors ${[...left, ...extraLayers].slice(0, 5).join(", ")} (config n_layer=${config.n_layer})`);
  }
  return { config, weights, configBytes: bytes, weightsPath };
}

function read(file: SafetensorsFile, byName: Map<string, string>, name: string, shape: number[]): Float32Array {
  const actual = byName.get(name);
  if (!actual) throw new Error(`${file.path}: missing tensor ${name} (also looked for transformer.${name})`);
  const info = file.info(actual)!;
  if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${file.path}: tensor ${actual} has shape [${info.shape}], expected [${shape}] from config.json`);
  }
  return file.readF32(actual);
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
