// The manifest written by the converter next to every model artifact folder, and checked by the
// runtime before it loads anything. Changing its shape means bumping MANIFEST_FORMAT.

export const MANIFEST_FORMAT = "edge-gpt2/1";

export type WeightDType = "int8" | "fp32";

export type KvPadding = "left" | "right";

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
  /**
   * "graph" is the ONNX protobuf; "weights" its external data file; "embedding" the int8 tied token
   * embedding / LM head for the engine's kernel (src/engine/lm-head): int8 [vocab, n_embd] then one
   * fp32 scale per token. With an embedding file the graph takes `inputs_embeds` and returns
   * `hidden_states` (after ln_f) instead of taking `input_ids` and returning `logits`. "mlp" the
   * blocks' int8 MLP weights for the same kernel (ModelManifest.mlp).
   */
  role: "graph" | "weights" | "embedding" | "mlp";
  /**
   * Where the file is stored split (static assets allow 25 MiB per file): these files, in order,
   * hold its bytes; `path` itself does not exist. bytes/sha256 above are the joined file's.
   */
  parts?: ManifestPart[];
}

export interface ManifestPart {
  path: string;
  bytes: number;
  sha256: string;
}

export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  /** Human-readable id, e.g. "gpt2" or "synthetic-l2-e64-h4-s1". */
  name: string;
  architecture: ModelArchitecture;
  dtype: WeightDType;
  tokenizer: { name: "r50k_base"; eos_token_id: number; bos_token_id: number };
  /**
   * Graph input/output names (Optimum / transformers.js convention), and where a batched cache
   * pads rows shorter than the longest: "left" (Optimum exports; the default when absent) or
   * "right" (our GroupQueryAttention graphs: row b's keys are positions [0, len_b)).
   */
  io: { inputs: string[]; outputs: string[]; kv_padding?: KvPadding };
  files: ManifestFile[];
  source: { checkpoint: string; config_sha256: string; weights_sha256: string };
  created_by: string;
  /**
   * A sharded model's front (issue 14): its transformer blocks live in these folders, each a shard
   * served by a Durable Object of its own (src/shard). The front lists no graph, only its
   * embedding file (the LM-head kernel's); `io` then describes the shards chained as one graph.
   */
  shards?: ManifestShard[];
  /** This folder is one shard of a sharded model (its front's manifest names it). */
  shard?: ShardInfo;
  /**
   * The blocks' MLPs run in the engine's int8 kernel (issue 13), not in onnxruntime: the model has
   * n_layer + 1 graphs (files with role "graph", in order, each with its "weights" file
   * `<graph>.data`) and one "mlp" file. Graph l < n_layer is block l up to ln_2: it takes
   * `inputs_embeds` + `position_ids` (l = 0) or `residual_in` + `addend_in` (the stream and block
   * l − 1's MLP output, summed by its first SkipLayerNormalization as in the one-graph model) and
   * returns `mlp_in` (ln_2's output) and `residual_out`; graph n_layer is ln_f, returning
   * `hidden_states`. `io` describes them chained as one graph.
   */
  mlp?: ManifestMlp;
}

/** The MLP file's shape: width n_inner, and per block the input channels c_fc / c_proj keep in fp32
 * (in the order their fp32 weight rows are stored). */
export interface ManifestMlp {
  inner: number;
  outliers: { fc: number[]; proj: number[] }[];
}

/** One shard as its front manifest names it. */
export interface ManifestShard {
  /** The shard's folder relative to the front manifest's (holds its own manifest.json). */
  path: string;
  /** Transformer blocks [from, to); the shards' ranges follow each other from 0 to n_layer. */
  layers: [number, number];
  /** sha256 of the shard's manifest.json: a front never pairs with another conversion's shard. */
  manifest_sha256: string;
  /** The shard's files in all (graph + weights), bytes. */
  bytes: number;
}

/**
 * A shard's own manifest: `architecture` is the whole model's; its graph holds blocks [from, to)
 * under their global numbers (past_key_values.<l>.*, new_key_values.<l>.*). The first shard takes
 * `inputs_embeds` + `position_ids` (it adds the position embedding), the others `residual_in`; the
 * last returns `hidden_states` after ln_f, the others `residual_out` (the residual stream after
 * their last block). Every position is returned; the runtime keeps only the last when asked.
 */
export interface ShardInfo {
  index: number;
  count: number;
  layers: [number, number];
}
