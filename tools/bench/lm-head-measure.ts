// The int8 kernel (src/engine/lm-head) against onnxruntime-web's int8 path (the converted graph's
// QuantizeLinear + MatMulIntegerToFloat, tools/bench/lm-head-onnx.ts) on one shape, for several
// row counts M: repetitions interleaved (ORT, kernel, ORT, kernel, …) so machine noise hits both
// alike. No Node imports: the bench Worker (lm-head-worker.ts) runs this inside workerd too.
import type { InferenceSession, Tensor } from "onnxruntime-common";
import type { TiedEmbedding } from "../../src/engine/lm-head/index.js";

export interface MatmulShape {
  name: string;
  /** Input width (the hidden size for the LM head). */
  K: number;
  /** Output width (the vocabulary for the LM head). */
  N: number;
}

export const LM_HEAD_SHAPE: MatmulShape = { name: "lm_head", K: 768, N: 50257 };
/** GPT-2-124M's per-block matmuls. */
export const BLOCK_SHAPES: MatmulShape[] = [
  { name: "attn.c_attn", K: 768, N: 2304 },
  { name: "attn.c_proj", K: 768, N: 768 },
  { name: "mlp.c_fc", K: 768, N: 3072 },
  { name: "mlp.c_proj", K: 3072, N: 768 },
];

/** Multiply-adds per timing sample (GPT-2's LM head for one row is 38.6 million). */
const SAMPLE_MACS = 60e6;

export interface OrtTensors {
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => Tensor;
}

export interface ShapeResult {
  shape: string;
  K: number;
  N: number;
  M: number;
  /** Per repetition, milliseconds. */
  ortMs: number[];
  kernelMs: number[];
  /** Largest |ORT − kernel| over all outputs of the first repetition (0 = bit-exact). */
  maxAbsDiff: number;
}

/** Hidden states for M rows: deterministic, GPT-2-ish magnitudes with one outlier per row. */
export function benchInput(M: number, K: number): Float32Array {
  const x = new Float32Array(M * K);
  let s = 12345 + M;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = ((s >>> 8) / 16777216 - 0.5) * 4;
  }
  for (let m = 0; m < M; m++) x[m * K + ((m * 37) % K)] = 30;
  return x;
}

export async function measureShape(
  ort: OrtTensors,
  session: InferenceSession,
  kernel: TiedEmbedding,
  shape: MatmulShape,
  Ms: number[],
  reps: number,
  clock: () => number = () => performance.now(),
): Promise<ShapeResult[]> {
  const results: ShapeResult[] = [];
  for (const M of Ms) {
    const x = benchInput(M, shape.K);
    const runOrt = async () => (await session.run({ hidden: new ort.Tensor("float32", x, [M, shape.K]) })).logits.data as Float32Array;
    const out = new Float32Array(M * shape.N);
    // Warm-up (first runs allocate), and the comparison of the two results.
    const reference = await runOrt();
    kernel.logits(x, out);
    let maxAbsDiff = 0;
    for (let i = 0; i < out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(reference[i] - out[i]));
    // workerd's clock ticks in whole milliseconds: each sample repeats small products enough times
    // to last several of them, and reports the time per product.
    const inner = Math.max(1, Math.floor(SAMPLE_MACS / (M * shape.N * shape.K)));
    const ortMs: number[] = [];
    const kernelMs: number[] = [];
    for (let r = 0; r < reps; r++) {
      let started = clock();
      for (let i = 0; i < inner; i++) await runOrt();
      ortMs.push((clock() - started) / inner);
      started = clock();
      for (let i = 0; i < inner; i++) kernel.logits(x, out);
      kernelMs.push((clock() - started) / inner);
    }
    results.push({ shape: shape.name, K: shape.K, N: shape.N, M, ortMs, kernelMs, maxAbsDiff });
  }
  return results;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One table line: medians, the spread as [p10, p90], and ORT / kernel of the medians. */
export function formatResult(where: string, r: ShapeResult): string {
  const spread = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return `${at(0.1).toFixed(2)}–${at(0.9).toFixed(2)}`;
  };
  const ort = median(r.ortMs);
  const kernel = median(r.kernelMs);
  return `| ${where} | ${r.shape} ${r.K}×${r.N} | ${r.M} | ${ort.toFixed(2)} (${spread(r.ortMs)}) | ${kernel.toFixed(2)} (${spread(r.kernelMs)}) | ${(ort / kernel).toFixed(2)}× | ${r.maxAbsDiff} |`;
}

export const TABLE_HEADER = [
  "| runtime | shape (K×N) | M | onnxruntime-web ms, median (p10–p90) | kernel ms, median (p10–p90) | speed-up | max abs diff |",
  "|---|---|---|---|---|---|---|",
];
