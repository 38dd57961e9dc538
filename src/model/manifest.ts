// The manifest written by the converter next to every model artifact folder, and checked by the
// runtime before it loads anything. Changing its shape means bumping MANIFEST_FORMAT.

export const MANIFEST_FORMAT = "edge-gpt2/1";

export type WeightDType = "int8" | "fp32";

export interface ModelArchitecture {
  model_type: "gpt2";
  n_layer: number;
  n_head: number;
  n_embd: number;
  /** GPT-2's context window: prompt + generated tokens never exceed it. */
  n_positions: number;
  vocab_size: number;
  layer_norm_epsilon: number;
}

export interface ManifestFile {
  /** Path relative to the manifest's folder. */
  path: string;
  bytes: number;
  sha256: string;
  /** "graph" is the ONNX protobuf; "weights" its external data file. */
  role: "graph" | "weights";
}

export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  /** Human-readable id, e.g. "gpt2" or "synthetic-l2-e64-h4-s1". */
  name: string;
  architecture: ModelArchitecture;
  dtype: WeightDType;
  tokenizer: { name: "r50k_base"; eos_token_id: number; bos_token_id: number };
  /** Graph input/output names (Optimum / transformers.js convention). */
  io: { inputs: string[]; outputs: string[] };
  files: ManifestFile[];
  source: { checkpoint: string; config_sha256: string; weights_sha256: string };
  created_by: string;
}
