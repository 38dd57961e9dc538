// What the int8 LM-head kernel (src/engine/lm-head) is measured and tested against: the converted
// graph's own embedding lookup and LM head, built by the converter's int8 weight format
// (tools/convert/int8-format.ts) as a small stand-alone ONNX model for onnxruntime — the same
// nodes and the same table as in a converted GPT-2, fed any hidden states we like.
//
// A block's matmul x·W (W [K, N], one scale per output column) is the same graph with W's
// transpose as the "embedding" [N, K]: int8Format quantizes each of its rows (W's columns) with
// one scale, exactly as it quantizes a linear layer's columns.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { MS_DOMAIN } from "../convert/gpt2-graph.js";
import { GraphBuilder } from "../convert/graph-builder.js";
import { int8Format } from "../convert/int8-format.js";
import { DataType, encodeModel } from "../convert/onnx-schema.js";
import { valueInfoProto } from "../convert/graph-builder.js";
import { quantizeRowsTransposed, type Clipping } from "../convert/quantize.js";

export const HIDDEN_INPUT = "hidden";
export const IDS_INPUT = "input_ids";
export const LOGITS_OUTPUT = "logits";
export const EMBEDDINGS_OUTPUT = "embeddings";

export interface Int8Table {
  /** int8 [rows, cols], row-major: the layout the kernel keeps. */
  table: Int8Array;
  /** fp32 [rows]: one dequantization scale per row. */
  scales: Float32Array;
}

/** The converter's int8 quantization of a float [rows, cols] table, as [rows, cols] rows. */
export function quantizeTable(weights: Float32Array, rows: number, cols: number, clipping: Clipping): Int8Table {
  const { q, scale } = quantizeRowsTransposed(weights, rows, cols, clipping); // q is [cols, rows]
  return { table: transpose(q, cols, rows), scales: scale };
}

/** [rows, cols] → [cols, rows]. */
export function transpose(values: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/**
 * ONNX model bytes: input `hidden` float [M, cols] → output `logits` float [M, rows] (the int8 LM
 * head); with `embedding`, also input `input_ids` int64 [1, count] → `embeddings` float
 * [1, count, cols] (the int8 embedding lookup). The table is stored inline.
 */
export function lmHeadModel(weights: Float32Array, rows: number, cols: number, clipping: Clipping, { embedding = true } = {}): Uint8Array {
  const g = new GraphBuilder();
  const format = int8Format(weights, rows, cols, { clipping });
  const hidden = g.input({ name: HIDDEN_INPUT, elemType: DataType.FLOAT, dims: ["M", cols] });
  format.lmHead(g, hidden, () => g.constI64([-1, rows]), LOGITS_OUTPUT);
  g.output({ name: LOGITS_OUTPUT, elemType: DataType.FLOAT, dims: ["M", rows] });
  if (embedding) {
    const ids = g.input({ name: IDS_INPUT, elemType: DataType.INT64, dims: [1, "count"] });
    g.op1("Identity", [format.embedTokens(g, ids)], {}, { outputs: [EMBEDDINGS_OUTPUT] });
    g.output({ name: EMBEDDINGS_OUTPUT, elemType: DataType.FLOAT, dims: [1, "count", cols] });
  }
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: "", version: 17 }, { domain: MS_DOMAIN, version: 1 }],
    producer_name: "edge-gpt2-bench",
    graph: {
      name: "int8-lm-head",
      node: g.nodes,
      initializer: g.initializers.map((i) => ({ name: i.name, data_type: i.dataType, dims: i.dims, raw_data: i.raw })),
      input: g.inputs.map(valueInfoProto),
      output: g.outputs.map(valueInfoProto),
    },
  });
}

// The project's WebAssembly types are workerd's, which has no compiling from bytes; Node has.
const { compile } = WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> };

/** The kernel compiled from the .wasm `npm run build:wasm` writes (Node; workerd imports it). */
export async function lmHeadModuleFromDisk(): Promise<WebAssembly.Module> {
  const file = resolve(import.meta.dirname, "../../src/engine/lm-head/lm-head.wasm");
  try {
    return await compile(readFileSync(file));
  } catch (error) {
    throw new Error(`cannot load ${file}: run \`npm run build:wasm\` (${(error as Error).message})`);
  }
}

/** Deterministic pseudo-random floats (xorshift32), roughly GPT-2-like magnitudes × `spread`. */
export function randomFloats(count: number, seed: number, spread = 1): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * spread;
  }
  return out;
}
