// Serialises a GraphBuilder into `model.onnx` (graph only) + `model.onnx.data` (every initializer,
// 64-byte aligned, referenced through TensorProto.external_data). Files are written under temporary
// names and renamed into place so an interrupted conversion never leaves a half-written model.
// With maxFileBytes (static assets: 25 MiB per file), a larger data file is written as consecutive
// parts `model.onnx.data.part-000`, … instead; the graph still names `model.onnx.data` and the
// loader joins the parts in order (src/model/source.ts).
import { createHash, type Hash } from "node:crypto";
import { open, readdir, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { DataLocation, encodeModel } from "./onnx-schema.js";
import { valueInfoProto, type GraphBuilder } from "./graph-builder.js";

export const GRAPH_FILE = "model.onnx";
export const DATA_FILE = "model.onnx.data";
/** Cloudflare's limit per static asset file (wrangler refuses larger ones: "Asset too large"). */
export const ASSET_FILE_LIMIT = 25 * 1024 * 1024;
// 64 bytes keeps every tensor aligned for SIMD loads when the runtime uses the buffer in place.
const ALIGNMENT = 64;

export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
  /** Set when the file was split: the files that hold its bytes, in order. */
  parts?: Array<{ path: string; bytes: number; sha256: string }>;
}

export interface OnnxModelOptions {
  graphName: string;
  opsets: Array<{ domain: string; version: number }>;
  producer: { name: string; version: string };
  metadata?: Record<string, string>;
  /** Largest file to write (e.g. 25 MiB for static assets); the data file is split above it. Default: no limit. */
  maxFileBytes?: number;
  /** The graph's file name (default model.onnx); its data file is this name + ".data". */
  graphFile?: string;
}

export async function writeOnnxWithExternalData(
  graph: GraphBuilder,
  outDir: string,
  options: OnnxModelOptions,
): Promise<{ graph: WrittenFile; data: WrittenFile }> {
  const graphFile = options.graphFile ?? GRAPH_FILE;
  const dataFile = `${graphFile}.data`;
  const tmpSuffix = `.tmp-${process.pid}-${Date.now()}`;
  const graphTmp = join(outDir, graphFile + tmpSuffix);
  const writer = new PartedWriter(outDir, dataFile, tmpSuffix, options.maxFileBytes ?? Infinity);
  try {
    const tensors = await writeDataFile(graph, writer, dataFile);
    const data = await writer.close();
    const model = {
      ir_version: 8, // IR 8 pairs with opset 17
      opset_import: options.opsets,
      producer_name: options.producer.name,
      producer_version: options.producer.version,
      graph: {
        name: options.graphName,
        node: graph.nodes,
        initializer: tensors,
        input: graph.inputs.map(valueInfoProto),
        output: graph.outputs.map(valueInfoProto),
      },
      metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    const graphBytes = encodeModel(model);
    await writeFile(graphTmp, graphBytes);
    // Whatever an earlier conversion left (a whole data file, or parts) goes: only the new files stay.
    for (const name of await readdir(outDir)) {
      if (name === dataFile || isPartOf(name, dataFile)) await rm(join(outDir, name));
    }
    await writer.renameIntoPlace();
    await rename(graphTmp, join(outDir, graphFile));
    return {
      graph: { path: graphFile, bytes: graphBytes.length, sha256: sha256(graphBytes) },
      data,
    };
  } finally {
    await writer.abandon();
    await rm(graphTmp, { force: true });
  }
}

/** Removes a graph written here and its data file, whole or in parts (the folder changed layout). */
export async function removeGraphFiles(outDir: string, graphFile = GRAPH_FILE): Promise<void> {
  const dataFile = `${graphFile}.data`;
  for (const name of await readdir(outDir)) {
    if (name === graphFile || name === dataFile || isPartOf(name, dataFile)) await rm(join(outDir, name), { force: true });
  }
}

async function writeDataFile(graph: GraphBuilder, out: PartedWriter, dataFile: string) {
  const tensors: Record<string, unknown>[] = [];
  let offset = 0;
  for (const init of graph.initializers) {
    const padding = (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
    if (padding) {
      await out.write(new Uint8Array(padding));
      offset += padding;
    }
    await out.write(init.raw);
    tensors.push({
      name: init.name,
      data_type: init.dataType,
      dims: init.dims,
      data_location: DataLocation.EXTERNAL,
      external_data: [
        { key: "location", value: dataFile },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(init.raw.byteLength) },
      ],
    });
    offset += init.raw.byteLength;
  }
  return tensors;
}

/**
 * One byte stream written as files of at most `maxBytes` each, under temporary names. The whole
 * stream's sha256 is the file's; each part has its own, so a loader can name the corrupt part.
 */
class PartedWriter {
  private readonly whole = createHash("sha256");
  private readonly parts: Array<{ tmp: string; bytes: number; hash: Hash }> = [];
  private handle: FileHandle | null = null;
  private total = 0;

  constructor(private readonly dir: string, private readonly dataFile: string, private readonly tmpSuffix: string, private readonly maxBytes: number) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.whole.update(bytes);
    this.total += bytes.byteLength;
    let at = 0;
    while (at < bytes.byteLength) {
      let part = this.parts.at(-1);
      if (!part || part.bytes === this.maxBytes) {
        await this.handle?.close();
        part = { tmp: join(this.dir, `${this.dataFile}.part-${this.parts.length}${this.tmpSuffix}`), bytes: 0, hash: createHash("sha256") };
        this.parts.push(part);
        this.handle = await open(part.tmp, "w");
      }
      const piece = bytes.subarray(at, at + Math.min(bytes.byteLength - at, this.maxBytes - part.bytes));
      await this.handle!.write(piece);
      part.hash.update(piece);
      part.bytes += piece.byteLength;
      at += piece.byteLength;
    }
  }

  /** The written file: one part is the plain data file, more are listed as its parts. */
  async close(): Promise<WrittenFile> {
    await this.handle?.close();
    this.handle = null;
    const file: WrittenFile = { path: this.dataFile, bytes: this.total, sha256: this.whole.digest("hex") };
    if (this.parts.length > 1) {
      file.parts = this.parts.map((p, i) => ({ path: partName(this.dataFile, i), bytes: p.bytes, sha256: p.hash.digest("hex") }));
    }
    return file;
  }

  async renameIntoPlace(): Promise<void> {
    for (const [i, part] of this.parts.entries()) {
      await rename(part.tmp, join(this.dir, this.parts.length > 1 ? partName(this.dataFile, i) : this.dataFile));
    }
    this.parts.length = 0;
  }

  /** Removes what is still under a temporary name (after a failure; a no-op after renameIntoPlace). */
  async abandon(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    for (const part of this.parts) await rm(part.tmp, { force: true });
  }
}

/** `name` is one of the parts `<file>.part-NNN` a split file is written as. */
export function isPartOf(name: string, file: string): boolean {
  return name.startsWith(`${file}.part-`) && /^\d+$/.test(name.slice(file.length + ".part-".length));
}

function partName(dataFile: string, index: number): string {
  return `${dataFile}.part-${String(index).padStart(3, "0")}`;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
