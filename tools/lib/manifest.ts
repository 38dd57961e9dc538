// Writing a model folder's manifest.json (src/model/manifest.ts): shared by the converter and by
// model:fetch for ready ONNX exports, so both describe a model the same way.
import { createHash } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MANIFEST_FORMAT, type ManifestFile, type ModelManifest, type WeightDType } from "../../src/model/manifest.js";
import type { Gpt2Config } from "../convert/checkpoint.js";

export interface ManifestParts {
  name: string;
  config: Gpt2Config;
  /** config.json as read, for its hash. */
  configBytes: Uint8Array;
  dtype: WeightDType;
  io: ModelManifest["io"];
  files: ManifestFile[];
  checkpoint: string;
  weightsSha256: string;
  createdBy: string;
  /** A sharded model's front lists its shards; a shard says which it is (issue 14). */
  shards?: ModelManifest["shards"];
  shard?: ModelManifest["shard"];
  /** The blocks' MLPs in the kernel (issue 13). */
  mlp?: ModelManifest["mlp"];
}

/** Write manifest.json atomically (temp file, then rename): a reader never sees half of one. */
export async function writeManifest(outDir: string, parts: ManifestParts): Promise<ModelManifest> {
  const { config } = parts;
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT,
    name: parts.name,
    architecture: {
      model_type: "gpt2",
      n_layer: config.n_layer,
      n_head: config.n_head,
      n_embd: config.n_embd,
      n_positions: config.n_positions,
      vocab_size: config.vocab_size,
      layer_norm_epsilon: config.layer_norm_epsilon,
    },
    dtype: parts.dtype,
    tokenizer: { name: "r50k_base", eos_token_id: config.eos_token_id, bos_token_id: config.bos_token_id },
    io: parts.io,
    files: parts.files,
    source: {
      checkpoint: parts.checkpoint,
      config_sha256: createHash("sha256").update(parts.configBytes).digest("hex"),
      weights_sha256: parts.weightsSha256,
    },
    created_by: parts.createdBy,
    ...(parts.shards ? { shards: parts.shards } : {}),
    ...(parts.shard ? { shard: parts.shard } : {}),
    ...(parts.mlp ? { mlp: parts.mlp } : {}),
  };
  const path = join(outDir, "manifest.json");
  await writeFile(`${path}.tmp`, JSON.stringify(manifest, null, 2) + "\n");
  await rename(`${path}.tmp`, path);
  return manifest;
}
