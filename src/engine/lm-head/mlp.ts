// A GPT-2 block's MLP — c_fc → FastGelu → c_proj, int8 — in the WebAssembly SIMD kernel of
// lm-head.wat instead of onnxruntime: onnxruntime-web re-packs every int8 weight matrix on every
// run(); the kernel reads the weights as they lie (12 GPT-2 MLPs at 1 row: 2× faster in Node, 3×
// in workerd, and still ~10% faster at 128 rows).
//
// The numbers are the converted graph's bit for bit (tools/convert/int8-format.ts `linear` and the
// FastGelu node of gpt2-graph.ts addBlocks): per linear, the outlier channels (if any) are taken
// out of the int8 input and multiplied in fp32 beside it; the rest is quantized per row, multiplied
// in int8 and rescaled (`quantize_rows` + `matmul`, or `matmul_wide` for many rows: the same
// numbers); then the bias is added, then the fp32 outlier product (`add_bias`,
// `add_outlier_product`); between the linears `fast_gelu`. A row's result depends on that row
// alone, so more rows than `maxRows` are simply computed in chunks.
//
// All layers' weights live once, in this kernel's own WebAssembly memory, sized exactly for them
// plus a `maxRows` workspace: the caller streams the MLP weights file (tools/convert/mlp-file.ts,
// layout there) into `file` in file order and keeps no other copy. The caller brings the compiled
// module, as for TiedEmbedding (./index.ts).

export interface MlpShape {
  layers: number;
  /** Model width E (768 for GPT-2): c_fc's input and c_proj's output; a multiple of 16. */
  hidden: number;
  /** MLP width I (3072 for GPT-2): c_fc's output and c_proj's input; a multiple of 16. */
  inner: number;
  /**
   * Per layer, the input channels each linear keeps in fp32 (the manifest's outlier lists), in the
   * converter's order: that of the fp32 rows in the file, which is also the order of the sum.
   */
  outliers: { fc: number[]; proj: number[] }[];
  /** Rows per kernel pass; more rows are processed in chunks of this many. Default 32. */
  maxRows?: number;
}

interface KernelExports {
  quantize_rows(x: number, rows: number, K: number, q: number, rowMax: number): void;
  matmul(q: number, rowMax: number, rows: number, w: number, scales: number, N: number, K: number, out: number, outStride: number): void;
  matmul_wide(q: number, rowMax: number, rows: number, w: number, scales: number, N: number, K: number, out: number, outStride: number, scratch: number): void;
  add_bias(x: number, rows: number, N: number, bias: number): void;
  add_outlier_product(picked: number, rows: number, count: number, fp32Rows: number, N: number, out: number): void;
  fast_gelu(x: number, count: number): void;
}

const PAGE = 65536;
/**
 * Rows per pass. The weights (4.7 MB a layer for GPT-2) stream from memory once per pass, so a
 * pass should hold many rows, but the workspace grows with them (21 KiB a row for GPT-2). Measured
 * on GPT-2's 12 MLPs at 64 to 256 rows: 32, 64, 128 and 256 rows per pass within a few percent of
 * each other (the matmul reads weights in cache-sized blocks whatever the pass). So 32, the least
 * that still takes `matmul_wide` (WIDE_ROWS): 0.7 MiB of workspace, which the isolate's memory
 * budget gives to keys/values instead.
 */
const DEFAULT_MAX_ROWS = 32;
/**
 * From this many rows on, `matmul_wide` (weights widened once per four rows, then read as they are)
 * instead of `matmul`. Measured on GPT-2's 12 MLPs: in Node (bounds checks on) `matmul_wide` is
 * 12–16% faster from 32 rows on (even at 16), in workerd 2% slower (its bounds check per load
 * costs more with the widened rows' offsets); `matmul` alone would leave Node's prefill 5% behind
 * onnxruntime's, while workerd stays ahead of onnxruntime either way.
 */
const WIDE_ROWS = 32;
/** `quantize_rows` and `matmul` read 16 columns per step; `add_outlier_product` writes 16. */
const COLUMN_TILE = 16;

/** A linear's place in the file (byte offsets into the kernel's memory) and its shape. */
interface Linear {
  K: number;
  N: number;
  weights: number;
  scales: number;
  bias: number;
  fp32Rows: number;
  outliers: Int32Array;
}

export class MlpKernel {
  /** The MLP weights file's bytes, in the kernel's memory: stream the file here, in file order. */
  readonly file: Uint8Array;
  readonly fileBytes: number;
  /** Bytes of WebAssembly memory this instance holds. */
  readonly memoryBytes: number;
  readonly maxRows: number;
  /** Rows from which a pass uses `matmul_wide` (a field so benchmarks can move it). */
  private wideRows = WIDE_ROWS;

  private constructor(
    private readonly kernel: KernelExports,
    private readonly memory: WebAssembly.Memory,
    private readonly linears: { fc: Linear; proj: Linear }[],
    private readonly work: Workspace,
    private readonly hidden: number,
    fileBytes: number,
    maxRows: number,
  ) {
    this.fileBytes = fileBytes;
    this.maxRows = maxRows;
    this.memoryBytes = memory.buffer.byteLength;
    this.file = new Uint8Array(memory.buffer, 0, fileBytes);
  }

  static async create(module: WebAssembly.Module, shape: MlpShape): Promise<MlpKernel> {
    const { layers, hidden, inner, outliers, maxRows = DEFAULT_MAX_ROWS } = shape;
    if (!Number.isInteger(layers) || layers < 1) throw new RangeError(`layers must be a positive integer, got ${layers}`);
    for (const [name, width] of [["hidden", hidden], ["inner", inner]] as const) {
      if (!Number.isInteger(width) || width < COLUMN_TILE || width % COLUMN_TILE !== 0) {
        throw new RangeError(`${name} must be a positive multiple of ${COLUMN_TILE}, got ${width}`);
      }
    }
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${maxRows}`);
    if (outliers.length !== layers) throw new RangeError(`outliers lists ${outliers.length} layers, expected ${layers}`);

    // The file first, at offset 0, exactly as the converter wrote it (every section 16-aligned).
    let end = 0;
    const linear = (K: number, N: number, channels: number[], what: string): Linear => {
      for (const k of channels) if (!Number.isInteger(k) || k < 0 || k >= K) throw new RangeError(`${what}: outlier channel ${k} is outside [0, ${K})`);
      // A channel listed twice would be taken once in the graph but zeroed before its second pick here.
      if (new Set(channels).size !== channels.length) throw new RangeError(`${what}: an outlier channel is listed twice`);
      const l = { K, N, weights: end, scales: end + N * K, bias: end + N * K + 4 * N, fp32Rows: end + N * K + 8 * N, outliers: Int32Array.from(channels) };
      end = l.fp32Rows + 4 * N * channels.length;
      return l;
    };
    const linears = outliers.map((o, l) => ({ fc: linear(hidden, inner, o.fc, `layer ${l} c_fc`), proj: linear(inner, hidden, o.proj, `layer ${l} c_proj`) }));
    const fileBytes = end;
    const maxOutliers = Math.max(0, ...outliers.flatMap((o) => [o.fc.length, o.proj.length]));
    const region = (bytes: number) => {
      const start = end;
      end += Math.ceil(bytes / 16) * 16;
      return start;
    };
    const work: Workspace = {
      x: region(maxRows * hidden * 4),
      h: region(maxRows * inner * 4),
      q: region(maxRows * inner * 2),
      rowMax: region(maxRows * 4),
      picked: region(maxRows * maxOutliers * 4),
      scratch: region(8 * Math.max(hidden, inner)),
    };
    const pages = Math.ceil(end / PAGE);
    // initial = maximum: the memory never grows, so `file` and the views below stay valid.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    return new MlpKernel(instance.exports as unknown as KernelExports, memory, linears, work, hidden, fileBytes, maxRows);
  }

  /** c_proj(FastGelu(c_fc(x))) with both biases, fp32 [rows, hidden], for x fp32 [rows, hidden] (not the residual). */
  forward(layer: number, x: Float32Array, out = new Float32Array(x.length)): Float32Array {
    const { hidden, maxRows, work, kernel } = this;
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.linears.length) throw new RangeError(`layer ${layer} is outside [0, ${this.linears.length})`);
    if (x.length % hidden !== 0) throw new RangeError(`MLP input holds ${x.length} values, not a multiple of ${hidden}`);
    if (out.length !== x.length) throw new RangeError(`MLP output holds ${out.length} values, expected ${x.length}`);
    const { fc, proj } = this.linears[layer];
    const rows = x.length / hidden;
    const input = new Float32Array(this.memory.buffer, work.x, maxRows * hidden);
    for (let start = 0; start < rows; start += maxRows) {
      const count = Math.min(maxRows, rows - start);
      input.set(x.subarray(start * hidden, (start + count) * hidden));
      this.linear(fc, work.x, count, work.h);
      kernel.fast_gelu(work.h, count * fc.N);
      this.linear(proj, work.h, count, work.x);
      out.set(input.subarray(0, count * hidden), start * hidden);
    }
    return out;
  }

  /** out [rows, N] = input [rows, K] · W + bias (+ the fp32 outlier product); input is consumed. */
  private linear(l: Linear, input: number, rows: number, out: number): void {
    const { kernel, work } = this;
    const count = l.outliers.length;
    if (count) {
      // The graph's Gather of the outlier channels, and its Mul by 0 there (x · 0, not a plain 0,
      // so a non-finite activation turns into NaN exactly as in the graph).
      const x = new Float32Array(this.memory.buffer, input, rows * l.K);
      const picked = new Float32Array(this.memory.buffer, work.picked, rows * count);
      for (let m = 0; m < rows; m++) {
        for (let j = 0; j < count; j++) {
          const at = m * l.K + l.outliers[j];
          picked[m * count + j] = x[at];
          x[at] *= 0;
        }
      }
    }
    kernel.quantize_rows(input, rows, l.K, work.q, work.rowMax);
    if (rows >= this.wideRows) kernel.matmul_wide(work.q, work.rowMax, rows, l.weights, l.scales, l.N, l.K, out, l.N, work.scratch);
    else kernel.matmul(work.q, work.rowMax, rows, l.weights, l.scales, l.N, l.K, out, l.N);
    kernel.add_bias(out, rows, l.N, l.bias);
    if (count) kernel.add_outlier_product(work.picked, rows, count, l.fp32Rows, l.N, out);
  }
}

/** Byte offsets of the per-pass buffers in the kernel's memory, after the file; 16-byte aligned. */
interface Workspace {
  /** f32 [maxRows, hidden]: c_fc's input, then c_proj's output. */
  x: number;
  /** f32 [maxRows, inner]: c_fc's output, FastGelu in place, c_proj's input. */
  h: number;
  /** i16 [maxRows, inner]: a linear's quantized input. */
  q: number;
  rowMax: number;
  /** f32 [maxRows, outliers]: a linear's outlier-channel activations. */
  picked: number;
  /** i16 [4, max(hidden, inner)]: `matmul_wide`'s widened weight rows. */
  scratch: number;
}
