// A small imperative builder for an ONNX GraphProto. Node outputs get unique generated names unless
// the caller names them (graph outputs must carry their public names). Large weights are collected
// as initializers with their raw bytes; write-model.ts moves them to the external data file.
import { AttributeType, DataType, type DataTypeCode } from "./onnx-schema.js";

export type AttrValue =
  | { f: number }
  | { i: number }
  | { ints: number[] }
  | { floats: number[] }
  | { s: string }
  | { t: ConstTensor };

export interface ConstTensor {
  dataType: DataTypeCode;
  dims: number[];
  raw: Uint8Array;
}

export interface Initializer {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  raw: Uint8Array;
}

export interface ValueInfo {
  name: string;
  elemType: DataTypeCode;
  /** Numbers are fixed sizes, strings are symbolic dimension names. */
  dims: Array<number | string>;
}

export interface NodeOptions {
  /** Explicit output names (e.g. public graph outputs); otherwise `count` generated names. */
  outputs?: string[];
  count?: number;
  domain?: string;
  name?: string;
}

export class GraphBuilder {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private serial = 0;

  /** Add a node; returns its output names. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string[] {
    const id = `${opts.name ?? opType}_${this.serial++}`;
    const outputs = opts.outputs ?? Array.from({ length: opts.count ?? 1 }, (_, k) => `${id}_out${k}`);
    this.nodes.push({
      name: id,
      op_type: opType,
      domain: opts.domain ?? "",
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([name, value]) => encodeAttr(name, value)),
    });
    return outputs;
  }

  /** Single-output convenience wrapper around op(). */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string {
    return this.op(opType, inputs, attrs, opts)[0];
  }

  /** Small constants live in Constant nodes so that every initializer is external weight data. */
  constI64(values: number[], dims: number[] = [values.length]): string {
    const raw = new Uint8Array(new BigInt64Array(values.map((v) => BigInt(v))).buffer);
    return this.op1("Constant", [], { value: { t: { dataType: DataType.INT64, dims, raw } } }, { name: "const_i64" });
  }

  constF32(values: number[], dims: number[] = [values.length]): string {
    const raw = new Uint8Array(new Float32Array(values).buffer);
    return this.op1("Constant", [], { value: { t: { dataType: DataType.FLOAT, dims, raw } } }, { name: "const_f32" });
  }

  initializer(name: string, dataType: DataTypeCode, dims: number[], data: Float32Array | Int8Array | Uint8Array): string {
    if (this.initializers.some((i) => i.name === name)) throw new Error(`internal error: duplicate initializer ${name}`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`internal error: initializer ${name} has ${data.length} values, dims [${dims}]`);
    this.initializers.push({ name, dataType, dims, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  input(info: ValueInfo): string {
    this.inputs.push(info);
    return info.name;
  }

  output(info: ValueInfo): void {
    this.outputs.push(info);
  }
}

function encodeAttr(name: string, value: AttrValue): Record<string, unknown> {
  if ("f" in value) return { name, type: AttributeType.FLOAT, f: value.f };
  if ("i" in value) return { name, type: AttributeType.INT, i: value.i };
  if ("ints" in value) return { name, type: AttributeType.INTS, ints: value.ints };
  if ("floats" in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  if ("s" in value) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.s) };
  return { name, type: AttributeType.TENSOR, t: { dims: value.t.dims, data_type: value.t.dataType, raw_data: value.t.raw } };
}

export function valueInfoProto(v: ValueInfo): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}
