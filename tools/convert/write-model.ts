// Serialises a GraphBuilder into `model.onnx` (graph only) + `model.onnx.data` (every initializer,
// 64-byte aligned, referenced through TensorProto.external_data). Files are written under temporary
// names and renamed into place so an interrupted conversion never leaves a half-written model.
import { createHash } from "node:crypto";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DataLocation, encodeModel } from "./onnx-schema.js";
import { valueInfoProto, type GraphBuilder } from "./graph-builder.js";

export const GRAPH_FILE = "model.onnx";
export const DATA_FILE = "model.onnx.data";
// 64 bytes keeps every tensor aligned for SIMD loads when the runtime uses the buffer in place.
const ALIGNMENT = 64;

export interface WrittenFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface OnnxModelOptions {
  graphName: string;
  opsets: Array<{ domain: string; version: number }>;
  producer: { name: string; version: string };
  metadata?: Record<string, string>;
}

export async function writeOnnxWithExternalData(
  graph: GraphBuilder,
  outDir: string,
  options: OnnxModelOptions,
): Promise<{ graph: WrittenFile; data: WrittenFile }> {
  const tmpSuffix = `.tmp-${process.pid}-${Date.now()}`;
  const dataTmp = join(outDir, DATA_FILE + tmpSuffix);
  const graphTmp = join(outDir, GRAPH_FILE + tmpSuffix);
  try {
    const { tensors, file: data } = await writeDataFile(graph, dataTmp);
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
    await rename(dataTmp, join(outDir, DATA_FILE));
    await rename(graphTmp, join(outDir, GRAPH_FILE));
    return {
      graph: { path: GRAPH_FILE, bytes: graphBytes.length, sha256: sha256(graphBytes) },
      data: { ...data, path: DATA_FILE },
    };
  } finally {
    await rm(dataTmp, { force: true });
    await rm(graphTmp, { force: true });
  }
}

async function writeDataFile(graph: GraphBuilder, path: string) {
  const handle = await open(path, "w");
  const hash = createHash("sha256");
  const tensors: Record<string, unknown>[] = [];
  let offset = 0;
  try {
    for (const init of graph.initializers) {
      const padding = (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
      if (padding) {
        const zeros = new Uint8Array(padding);
        await handle.write(zeros);
        hash.update(zeros);
        offset += padding;
      }
      await handle.write(init.raw);
      hash.update(init.raw);
      tensors.push({
        name: init.name,
        data_type: init.dataType,
        dims: init.dims,
        data_location: DataLocation.EXTERNAL,
        external_data: [
          { key: "location", value: DATA_FILE },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(init.raw.byteLength) },
        ],
      });
      offset += init.raw.byteLength;
    }
  } finally {
    await handle.close();
  }
  return { tensors, file: { path, bytes: offset, sha256: hash.digest("hex") } };
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
