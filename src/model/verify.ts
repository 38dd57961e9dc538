// The runtime checks the manifest and every file before loading, and says exactly what is wrong.
import { MANIFEST_FORMAT, type ManifestPart, type ModelManifest } from "./manifest";

export class ModelFileError extends Error {
  override name = "ModelFileError";
}

const REQUIRED_ARCH = ["n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "layer_norm_epsilon"] as const;

export function parseManifest(bytes: Uint8Array, location: string): ModelManifest {
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes)) as ModelManifest;
  } catch {
    throw new ModelFileError(`${location}/manifest.json is not valid JSON: re-run npm run model:convert`);
  }
  const fail = (what: string) => new ModelFileError(`${location}/manifest.json: ${what}; re-run npm run model:convert`);
  if (manifest?.format !== MANIFEST_FORMAT) throw fail(`format is ${JSON.stringify(manifest?.format)}, expected ${MANIFEST_FORMAT}`);
  const arch = manifest.architecture as unknown as Record<string, unknown> | undefined;
  for (const key of REQUIRED_ARCH) {
    if (typeof arch?.[key] !== "number" || !(Number(arch[key]) > 0)) throw fail(`architecture.${key} is missing or not positive`);
  }
  if (manifest.architecture.n_embd % manifest.architecture.n_head !== 0) throw fail("n_embd is not a multiple of n_head");
  const padding = manifest.io?.kv_padding;
  if (padding !== undefined && padding !== "left" && padding !== "right") throw fail(`io.kv_padding is ${JSON.stringify(padding)}, expected "left" or "right"`);
  if (!Array.isArray(manifest.files) || !manifest.files.some((f) => f.role === "graph")) throw fail("no graph file listed");
  const wellFormed = (f: ManifestPart) =>
    typeof f?.path === "string" && !f.path.includes("..") && /^[0-9a-f]{64}$/.test(f.sha256) && Number.isInteger(f.bytes);
  for (const file of manifest.files) {
    if (!wellFormed(file)) throw fail(`file entry ${JSON.stringify(file)} is malformed`);
    if (file.parts === undefined) continue;
    if (!Array.isArray(file.parts) || file.parts.length === 0 || !file.parts.every(wellFormed)) throw fail(`${file.path}: parts are malformed`);
    const joined = file.parts.reduce((sum, part) => sum + part.bytes, 0);
    if (joined !== file.bytes) throw fail(`${file.path}: its parts add up to ${joined} bytes, not ${file.bytes}`);
  }
  return manifest;
}

/** Checks bytes against a manifest entry (a file, or one part of a split file). */
export async function verifyFile(bytes: Uint8Array, file: ManifestPart, location: string): Promise<void> {
  if (bytes.byteLength !== file.bytes) {
    throw new ModelFileError(`${location}/${file.path} is ${bytes.byteLength} bytes, manifest says ${file.bytes} (truncated or replaced?)`);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== file.sha256) {
    throw new ModelFileError(`${location}/${file.path} has sha256 ${hex}, manifest says ${file.sha256} (corrupt or from another conversion)`);
  }
}
