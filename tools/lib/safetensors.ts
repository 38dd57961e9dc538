// Minimal safetensors reader/writer (https://github.com/huggingface/safetensors#format):
// 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then
// the raw little-endian tensor bytes. We only need float tensors: F32 as is, F16/BF16 widened.
import { readFile } from "node:fs/promises";

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  data_offsets: [number, number];
}

export interface SafetensorsFile {
  path: string;
  names: string[];
  info(name: string): TensorInfo | undefined;
  /** A fresh float32 copy of the tensor (copy, so the caller may keep it after the file is dropped). */
  readF32(name: string): Float32Array;
}

const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  if (bytes.length < 8) throw new Error(`${path}: too short to be a safetensors file`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) {
    throw new Error(`${path}: bad safetensors header length ${headerLength}`);
  }
  let header: Record<string, TensorInfo | Record<string, string>>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  } catch (e) {
    throw new Error(`${path}: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const t = value as TensorInfo;
    const [begin, end] = t.data_offsets;
    if (dataStart + end > bytes.length || begin > end) throw new Error(`${path}: tensor ${name} lies outside the file`);
    tensors.set(name, t);
  }

  return {
    path,
    names: [...tensors.keys()],
    info: (name) => tensors.get(name),
    readF32(name) {
      const t = tensors.get(name);
      if (!t) throw new Error(`${path}: no tensor ${name}`);
      const size = t.shape.reduce((a, b) => a * b, 1);
      const width = ELEMENT_BYTES[t.dtype];
      if (!width) throw new Error(`${path}: tensor ${name} has unsupported dtype ${t.dtype} (need F32, F16 or BF16)`);
      const [begin, end] = t.data_offsets;
      if (end - begin !== size * width) throw new Error(`${path}: tensor ${name} byte length does not match its shape`);
      const raw = bytes.subarray(dataStart + begin, dataStart + end);
      const out = new Float32Array(size);
      if (t.dtype === "F32") {
        // Copy bytes rather than view: the data section need not be 4-byte aligned.
        new Uint8Array(out.buffer).set(raw);
      } else {
        const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        for (let i = 0; i < size; i++) {
          const bits = view.getUint16(2 * i, true);
          out[i] = t.dtype === "BF16" ? bf16ToF32(bits) : f16ToF32(bits);
        }
      }
      return out;
    },
  };
}

const scratch = new DataView(new ArrayBuffer(4));
function bf16ToF32(bits: number): number {
  scratch.setUint32(0, bits << 16, true);
  return scratch.getFloat32(0, true);
}

function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Serialise float32 tensors in insertion order (safetensors itself sorts nothing; we keep it stable). */
export function encodeSafetensorsF32(
  tensors: Array<{ name: string; shape: number[]; data: Float32Array }>,
  metadata: Record<string, string> = { format: "pt" },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`tensor ${t.name}: shape ${t.shape} does not match ${t.data.length} values`);
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference library does.
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
