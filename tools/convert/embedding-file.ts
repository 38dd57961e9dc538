// The int8 token-embedding file of a model converted with `embedding: "external"`, read by the
// int8 LM-head kernel (src/engine/lm-head) for both the embedding lookup and the tied LM head:
//   int8 [vocab, n_embd]  row t = token t, quantized symmetrically with one scale per token
//   float32 [vocab]       those scales, little-endian (value ≈ q · scale)
// The table's size is a multiple of 16 bytes (n_embd is), so the scales start 4-byte aligned and
// both parts can be copied straight into the kernel's memory. It is the same quantization as the
// in-graph table (int8-format.ts stores it transposed as the LM head's [n_embd, vocab] weight).
import { rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256, type WrittenFile } from "./write-model.js";

export const EMBEDDING_FILE = "embedding.int8";

export async function writeEmbeddingFile(outDir: string, q: Int8Array, scales: Float32Array): Promise<WrittenFile> {
  const bytes = new Uint8Array(q.byteLength + scales.byteLength);
  bytes.set(new Uint8Array(q.buffer, q.byteOffset, q.byteLength), 0);
  bytes.set(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength), q.byteLength);
  const path = join(outDir, EMBEDDING_FILE);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  return { path: EMBEDDING_FILE, bytes: bytes.byteLength, sha256: sha256(bytes) };
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
