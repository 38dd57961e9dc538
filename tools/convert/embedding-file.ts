// The int8 token-embedding file of a model converted with `embedding: "external"`, read by the
// int8 LM-head kernel (src/engine/lm-head) for both the embedding lookup and the tied LM head:
//   int8 [vocab, n_embd]  row t = token t, quantized symmetrically with one scale per token
//   float32 [vocab]       those scales, little-endian (value ≈ q · scale)
// The table's size is a multiple of 16 bytes (n_embd is), so the scales start 4-byte aligned and
// both parts can be copied straight into the kernel's memory. It is the same quantization as the
// in-graph table (int8-format.ts stores it transposed as the LM head's [n_embd, vocab] weight).
import { readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isPartOf, sha256, type WrittenFile } from "./write-model.js";

export const EMBEDDING_FILE = "embedding.int8";

/** Writes the table and its scales as one file (split as `writeSplitFile` says). */
export async function writeEmbeddingFile(outDir: string, q: Int8Array, scales: Float32Array, maxFileBytes = Infinity): Promise<WrittenFile> {
  const bytes = new Uint8Array(q.byteLength + scales.byteLength);
  bytes.set(new Uint8Array(q.buffer, q.byteOffset, q.byteLength), 0);
  bytes.set(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength), q.byteLength);
  return writeSplitFile(outDir, EMBEDDING_FILE, bytes, maxFileBytes);
}

/** Removes an embedding file, whole or in parts (a folder re-converted without one must not keep it). */
export async function removeEmbeddingFiles(outDir: string): Promise<void> {
  await removeSplitFile(outDir, EMBEDDING_FILE);
}

/**
 * Writes `bytes` as `name`, or with `maxFileBytes` (static assets: 25 MiB per file) as consecutive
 * parts `<name>.part-000`, … listed in the returned entry's `parts` (the loader joins them in
 * order, src/model/source.ts). Whatever an earlier conversion left (the whole file or parts) goes.
 */
export async function writeSplitFile(outDir: string, name: string, bytes: Uint8Array, maxFileBytes = Infinity): Promise<WrittenFile> {
  const pieces: { name: string; bytes: Uint8Array }[] = [];
  if (bytes.byteLength <= maxFileBytes) pieces.push({ name, bytes });
  else {
    for (let at = 0; at < bytes.byteLength; at += maxFileBytes) {
      pieces.push({ name: `${name}.part-${String(pieces.length).padStart(3, "0")}`, bytes: bytes.subarray(at, at + maxFileBytes) });
    }
  }
  const tmpSuffix = `.tmp-${process.pid}-${Date.now()}`;
  try {
    for (const piece of pieces) await writeFile(join(outDir, piece.name + tmpSuffix), piece.bytes);
    await removeSplitFile(outDir, name);
    for (const piece of pieces) await rename(join(outDir, piece.name + tmpSuffix), join(outDir, piece.name));
  } finally {
    for (const piece of pieces) await rm(join(outDir, piece.name + tmpSuffix), { force: true });
  }
  const file: WrittenFile = { path: name, bytes: bytes.byteLength, sha256: sha256(bytes) };
  if (pieces.length > 1) file.parts = pieces.map((piece) => ({ path: piece.name, bytes: piece.bytes.byteLength, sha256: sha256(piece.bytes) }));
  return file;
}

/** Removes a file written by writeSplitFile, whole or in parts. */
export async function removeSplitFile(outDir: string, name: string): Promise<void> {
  for (const entry of await readdir(outDir)) {
    if (entry === name || isPartOf(entry, name)) await rm(join(outDir, entry), { force: true });
  }
}

/** The two parts of an embedding file's bytes (views, no copy). */
export function readEmbeddingFile(bytes: Uint8Array, vocab: number, hidden: number): { table: Int8Array; scales: Float32Array } {
  if (bytes.byteLength !== vocab * hidden + vocab * 4) {
    throw new Error(`embedding file holds ${bytes.byteLength} bytes, expected ${vocab * hidden + vocab * 4} for [${vocab}, ${hidden}] int8 + ${vocab} scales`);
  }
  const table = new Int8Array(bytes.buffer, bytes.byteOffset, vocab * hidden);
  const scales = new Float32Array(bytes.buffer.slice(bytes.byteOffset + vocab * hidden, bytes.byteOffset + bytes.byteLength));
  return { table, scales };
}
