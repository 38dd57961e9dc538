// The runtime checks the manifest and every file before loading, and says exactly what is wrong.
import { MANIFEST_FORMAT, type ManifestFile, type ManifestPart, type ModelManifest } from "./manifest";

export class ModelFileError extends Error {
  override name = "ModelFileError";
}

const FILE_ROLES: readonly ManifestFile["role"][] = ["graph", "weights", "embedding", "mlp"];

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
  if (!Array.isArray(manifest.files)) throw fail("no files listed");
  checkSharding(manifest, fail);
  const wellFormed = (f: ManifestPart) =>
    typeof f?.path === "string" && !f.path.includes("..") && /^[0-9a-f]{64}$/.test(f.sha256) && Number.isInteger(f.bytes);
  for (const file of manifest.files) {
    if (!wellFormed(file) || !FILE_ROLES.includes(file.role)) throw fail(`file entry ${JSON.stringify(file)} is malformed`);
    if (file.parts === undefined) continue;
    if (!Array.isArray(file.parts) || file.parts.length === 0 || !file.parts.every(wellFormed)) throw fail(`${file.path}: parts are malformed`);
    const joined = file.parts.reduce((sum, part) => sum + part.bytes, 0);
    if (joined !== file.bytes) throw fail(`${file.path}: its parts add up to ${joined} bytes, not ${file.bytes}`);
  }
  if (manifest.files.filter((f) => f.role === "embedding").length > 1) throw fail("more than one embedding file listed");
  checkMlp(manifest, fail);
  return manifest;
}

/**
 * A model whose MLPs run in the kernel lists n_layer + 1 graphs (a shard: one per block it holds,
 * plus ln_f's on the last), one MLP file and (unless a shard) its embedding.
 */
function checkMlp(manifest: ModelManifest, fail: (what: string) => ModelFileError): void {
  const { mlp, files, shard } = manifest;
  const mlpFiles = files.filter((f) => f.role === "mlp").length;
  if (mlp === undefined) {
    if (mlpFiles > 0) throw fail("lists an mlp file but no mlp section");
    if (files.filter((f) => f.role === "graph").length > 1) throw fail("lists more than one graph");
    return;
  }
  const { n_layer: nLayer, n_embd: hidden } = manifest.architecture;
  if (mlpFiles !== 1) throw fail(`an mlp section needs exactly one mlp file, ${mlpFiles} listed`);
  if (!shard && !files.some((f) => f.role === "embedding")) throw fail("an mlp section needs the embedding file (the kernel's)");
  const [from, to] = shard ? shard.layers : [0, nLayer];
  const blocks = to - from;
  const graphs = files.filter((f) => f.role === "graph");
  const expected = blocks + (to === nLayer ? 1 : 0);
  if (graphs.length !== expected) throw fail(`an mlp section needs ${shard ? `a graph per block [${from}, ${to})${to === nLayer ? " and ln_f's" : ""}` : "n_layer + 1"} = ${expected} graphs, ${graphs.length} listed`);
  for (const graph of graphs) {
    if (!files.some((f) => f.role === "weights" && f.path === `${graph.path}.data`)) throw fail(`graph ${graph.path} has no weights file ${graph.path}.data`);
  }
  if (!isCount(mlp.inner, 16) || mlp.inner % 16 !== 0) throw fail(`mlp.inner ${JSON.stringify(mlp.inner)} is not a positive multiple of 16`);
  const channels = (list: unknown, width: number) =>
    Array.isArray(list) && list.every((k) => isCount(k, 0) && k < width) && new Set(list).size === list.length;
  if (!Array.isArray(mlp.outliers) || mlp.outliers.length !== blocks) throw fail(`mlp.outliers must list ${blocks} blocks`);
  mlp.outliers.forEach((o, l) => {
    if (!channels(o?.fc, hidden) || !channels(o?.proj, mlp.inner)) throw fail(`mlp.outliers[${l}] needs lists of distinct channels fc (< n_embd) and proj (< mlp.inner)`);
  });
}

const isCount = (n: unknown, min: number): n is number => Number.isInteger(n) && (n as number) >= min;
const isRange = (r: unknown, nLayer: number): r is [number, number] =>
  Array.isArray(r) && r.length === 2 && isCount(r[0], 0) && isCount(r[1], 1) && r[0] < r[1] && r[1] <= nLayer;

/**
 * A plain model lists its graph. A sharded model's front (`shards`) lists none, only the embedding
 * file its LM-head kernel needs, and names shards whose block ranges follow each other from 0 to
 * n_layer; a shard (`shard`) lists its graph and says which blocks it holds (issue 14).
 */
function checkSharding(manifest: ModelManifest, fail: (what: string) => ModelFileError): void {
  const { shards, shard } = manifest;
  const nLayer = manifest.architecture.n_layer;
  const hasGraph = manifest.files.some((f) => f?.role === "graph");
  if (shards !== undefined && shard !== undefined) throw fail("lists both shards (a front) and shard (one shard)");
  if (shards === undefined) {
    if (!hasGraph) throw fail("no graph file listed");
    if (shard === undefined) return;
    if (!isCount(shard?.count, 1) || !isCount(shard.index, 0) || shard.index >= shard.count) throw fail(`shard ${JSON.stringify(shard)} needs an index below a count ≥ 1`);
    if (!isRange(shard.layers, nLayer)) throw fail(`shard.layers ${JSON.stringify(shard.layers)} is not a block range [from, to) within n_layer ${nLayer}`);
    if (manifest.io?.kv_padding !== "right") throw fail("a shard's keys/values must be right-padded (io.kv_padding \"right\": GroupQueryAttention graphs)");
    return;
  }
  if (!Array.isArray(shards) || shards.length === 0) throw fail("shards must be a non-empty list");
  if (hasGraph) throw fail("a sharded model's front lists no graph of its own (its blocks are in the shards)");
  if (!manifest.files.some((f) => f?.role === "embedding")) throw fail("a sharded model's front needs its embedding file (role \"embedding\")");
  if (manifest.io?.kv_padding !== "right") throw fail("a sharded model's keys/values must be right-padded (io.kv_padding \"right\")");
  let next = 0;
  shards.forEach((s, i) => {
    if (typeof s?.path !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s.path)) throw fail(`shards[${i}].path ${JSON.stringify(s?.path)} is not a folder name`);
    if (!isRange(s.layers, nLayer)) throw fail(`shards[${i}].layers ${JSON.stringify(s.layers)} is not a block range [from, to) within n_layer ${nLayer}`);
    if (s.layers[0] !== next) throw fail(`shards[${i}].layers starts at block ${s.layers[0]}, expected ${next} (ranges must follow each other from 0)`);
    if (typeof s.manifest_sha256 !== "string" || !/^[0-9a-f]{64}$/.test(s.manifest_sha256)) throw fail(`shards[${i}].manifest_sha256 is not a sha256`);
    if (!isCount(s.bytes, 0)) throw fail(`shards[${i}].bytes is not a byte count`);
    next = s.layers[1];
  });
  if (next !== nLayer) throw fail(`the shards hold blocks [0, ${next}), n_layer is ${nLayer}`);
}

/** Checks bytes against a manifest entry (a file, or one part of a split file). */
export async function verifyFile(bytes: Uint8Array, file: ManifestPart, location: string): Promise<void> {
  checkSize(bytes.byteLength, file, location);
  checkDigest(await crypto.subtle.digest("SHA-256", bytes), file, location);
}

/**
 * A file's stream handed chunk by chunk to `place` (its byte offset in the file alongside) while it
 * is hashed, so a file copied elsewhere as it arrives (the LM-head kernel's table) is checked without
 * ever being held whole. Uses workerd's DigestStream; throws, having placed some bytes, on any
 * mismatch — the caller drops what it placed them in.
 */
export async function verifyStream(body: ReadableStream<Uint8Array>, file: ManifestFile, location: string, place: (chunk: Uint8Array, offset: number) => void): Promise<void> {
  const digest = new crypto.DigestStream("SHA-256");
  const hash = digest.digest;
  hash.catch(() => undefined); // read only on success: an aborted hash must not surface as an unhandled rejection
  const hasher = digest.getWriter();
  const reader = chunksOf(body);
  let offset = 0;
  try {
    for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
      if (offset + chunk.byteLength > file.bytes) {
        throw new ModelFileError(`${location}/${file.path} is longer than the ${file.bytes} bytes the manifest says (replaced?)`);
      }
      place(chunk, offset);
      offset += chunk.byteLength;
      await hasher.write(chunk);
    }
    checkSize(offset, file, location);
  } catch (error) {
    await reader.cancel();
    await hasher.abort().catch(() => undefined);
    throw error;
  }
  await hasher.close();
  checkDigest(await hash, file, location);
}

const SCRATCH_BYTES = 256 * 1024;

/**
 * A byte stream read chunk by chunk, each chunk valid until the next read. Streams that take a
 * BYOB reader (fetch and R2 bodies in workerd) are read into one reused buffer: a 40 MiB file read
 * the default way leaves 40 MiB of spent chunks that count against the isolate until a GC runs
 * (measured: the load peak held the embedding's whole stream next to the model).
 */
function chunksOf(body: ReadableStream<Uint8Array>): { read(): Promise<Uint8Array | null>; cancel(): Promise<void> } {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // not a byte stream: chunks as the stream makes them
  }
  if (byob === null) {
    const reader = body.getReader();
    return {
      read: async () => {
        const chunk = await reader.read();
        return chunk.done ? null : chunk.value;
      },
      cancel: () => reader.cancel().catch(() => undefined),
    };
  }
  const bytes = byob;
  let scratch = new ArrayBuffer(SCRATCH_BYTES);
  return {
    async read() {
      // The buffer is transferred into the read and comes back (same memory) in its result.
      const chunk = await bytes.read(new Uint8Array(scratch, 0, SCRATCH_BYTES));
      if (chunk.value) scratch = chunk.value.buffer as ArrayBuffer;
      return chunk.done ? null : chunk.value!;
    },
    cancel: () => bytes.cancel().catch(() => undefined),
  };
}

function checkSize(bytes: number, file: ManifestPart, location: string): void {
  if (bytes !== file.bytes) {
    throw new ModelFileError(`${location}/${file.path} is ${bytes} bytes, manifest says ${file.bytes} (truncated or replaced?)`);
  }
}

function checkDigest(digest: ArrayBuffer, file: ManifestPart, location: string): void {
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== file.sha256) {
    throw new ModelFileError(`${location}/${file.path} has sha256 ${hex}, manifest says ${file.sha256} (corrupt or from another conversion)`);
  }
}
