// Ready-made ONNX exports in the Optimum / transformers.js layout (`onnx/model*.onnx` or the older
// `onnx/decoder_model_merged*.onnx`, which adds a boolean `use_cache_branch` input; weights inline or
// in `<file>.onnx_data*` next to it). We pick the file for the requested dtype and write a model
// folder the runtime serves directly: the graph, its external data, and a manifest.json.
import { copyFile, link, mkdir, open, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, join, posix } from "node:path";
import type { ManifestFile, ModelManifest, WeightDType } from "../../src/model/manifest.js";
import { writeManifest } from "../lib/manifest.js";
import { readGpt2Config } from "../convert/checkpoint.js";
import { sha256File } from "./download.js";

export const FETCH_VERSION = "0.1.0";

/** transformers.js file suffixes: `_quantized` is its q8 (onnxruntime quantize_dynamic). */
const SUFFIXES: Record<WeightDType, string[]> = { int8: ["_quantized", "_int8", "_uint8"], fp32: [""] };
const STEMS = ["model", "decoder_model_merged"];

export interface OnnxExportChoice {
  graph: string;
  externalData: string[];
}

/** The export to use from a repo listing, or null when it has none for that dtype. */
export function pickOnnxExport(paths: string[], dtype: WeightDType): OnnxExportChoice | null {
  const present = new Set(paths);
  for (const suffix of SUFFIXES[dtype]) {
    for (const stem of STEMS) {
      const graph = `onnx/${stem}${suffix}.onnx`;
      if (!present.has(graph)) continue;
      const dataPrefix = `${graph}_data`;
      const externalData = paths.filter((p) => p === dataPrefix || p.startsWith(`${dataPrefix}_`)).sort();
      return { graph, externalData };
    }
  }
  return null;
}

/** Names of the graph's inputs and outputs, read from the protobuf without loading the weights. */
export async function readGraphIo(path: string): Promise<{ inputs: string[]; outputs: string[] }> {
  const file = await open(path, "r");
  try {
    const size = (await file.stat()).size;
    const io = { inputs: [] as string[], outputs: [] as string[] };
    // ModelProto.graph = 7; GraphProto: input = 11, output = 12; ValueInfoProto: name = 1.
    for (const graph of (await fields(file, 0, size, [7])).get(7) ?? []) {
      const lists = await fields(file, graph.start, graph.end, [11, 12]);
      for (const [field, list] of [[11, io.inputs], [12, io.outputs]] as const) {
        for (const info of lists.get(field) ?? []) {
          const name = (await fields(file, info.start, info.end, [1])).get(1)?.[0];
          if (name) list.push(await readString(file, name.start, name.end));
        }
      }
    }
    if (io.inputs.length === 0) throw new Error(`${path}: no graph inputs found (not an ONNX model?)`);
    return io;
  } finally {
    await file.close();
  }
}

export interface WriteOnnxFolderOptions {
  /** Folder holding the downloaded repo files (config.json, onnx/...). */
  repoDir: string;
  choice: OnnxExportChoice;
  dtype: WeightDType;
  outDir: string;
  name: string;
  source: string;
}

export async function writeOnnxModelFolder(opts: WriteOnnxFolderOptions): Promise<ModelManifest> {
  const { config, bytes: configBytes } = await readGpt2Config(opts.repoDir);
  const graphPath = join(opts.repoDir, opts.choice.graph);
  const io = await readGraphIo(graphPath);
  const past = Array.from({ length: config.n_layer }, (_, i) => `past_key_values.${i}.key`);
  const missing = ["input_ids", "attention_mask", ...past].filter((n) => !io.inputs.includes(n));
  if (!io.outputs.includes("logits")) missing.push("logits");
  if (missing.length > 0) throw new Error(`${opts.choice.graph}: not a GPT-2 decoder with a KV cache (missing ${missing.join(", ")})`);
  await mkdir(opts.outDir, { recursive: true });
  const files: ManifestFile[] = [];
  // Files keep their base names: the graph names its external data file by base name.
  const entries: Array<[string, ManifestFile["role"]]> = [[opts.choice.graph, "graph"], ...opts.choice.externalData.map((p): [string, "weights"] => [p, "weights"])];
  for (const [path, role] of entries) {
    const target = join(opts.outDir, posix.basename(path));
    await placeFile(join(opts.repoDir, path), target);
    files.push({ path: basename(target), bytes: (await stat(target)).size, sha256: await sha256File(target), role });
  }
  return writeManifest(opts.outDir, {
    name: opts.name,
    config,
    configBytes,
    dtype: opts.dtype,
    io,
    files,
    checkpoint: opts.source,
    weightsSha256: files[0].sha256,
    createdBy: `edge-gpt2 tools/fetch ${FETCH_VERSION} (ONNX export ${opts.choice.graph})`,
  });
}

/** A hard link when possible (no second copy on disk), else a copy. */
async function placeFile(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

// --- a minimal protobuf field walker over a file (positional reads; large fields are skipped) ---

interface Span {
  start: number;
  end: number;
}

/** Spans of the length-delimited fields numbered `wanted` in the message at [start, end). */
async function fields(file: FileHandle, start: number, end: number, wanted: number[]): Promise<Map<number, Span[]>> {
  const found = new Map<number, Span[]>();
  let pos = start;
  while (pos < end) {
    const tag = await varint(file, pos);
    pos = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    let valueStart = pos;
    if (wire === 0) pos = (await varint(file, pos)).next;
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = await varint(file, pos);
      valueStart = length.next;
      pos = length.next + length.value;
    } else throw new Error(`unsupported protobuf wire type ${wire} at byte ${pos}`);
    if (wire === 2 && wanted.includes(field)) {
      const list = found.get(field) ?? [];
      list.push({ start: valueStart, end: pos });
      found.set(field, list);
    }
  }
  return found;
}

async function varint(file: FileHandle, pos: number): Promise<{ value: number; next: number }> {
  const buffer = Buffer.alloc(10);
  const { bytesRead } = await file.read(buffer, 0, 10, pos);
  let value = 0;
  for (let i = 0; i < bytesRead; i++) {
    value += (buffer[i] & 0x7f) * 2 ** (7 * i);
    if ((buffer[i] & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  throw new Error(`truncated protobuf varint at byte ${pos}`);
}

async function readString(file: FileHandle, start: number, end: number): Promise<string> {
  const buffer = Buffer.alloc(end - start);
  await file.read(buffer, 0, buffer.length, start);
  return buffer.toString("utf8");
}
