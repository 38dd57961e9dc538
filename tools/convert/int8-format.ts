// int8 weights for onnxruntime-web's WASM kernels: int8 weights, symmetric, one scale per output
// column (MSE clipping), multiplied by activations quantized to 8 bits at run time with
// com.microsoft MatMulIntegerToFloat — the same MLAS integer GEMM DynamicQuantizeMatMul uses, and
// unlike MatMulNBits it has a fast WASM kernel.
//
// Activations are quantized PER ROW (per token position of each sequence), each with its own scale:
//   s = max|x_row| / 127,  x_row ≈ s · round(x_row / s)
// The integer GEMM is exact and the float rescaling is element-wise, so a row's result depends on
// that row alone: a request gives the same logits whether it runs alone or stacked with others
// (continuous batching), and whether its prompt is prefilled at once or in chunks (prefix KV reuse).
// Per-tensor quantization (one scale for the whole input: DynamicQuantizeMatMul, the README
// yardstick scheme) lets the largest value in any row coarsen every other row; it is kept only as
// an option so tests and benchmarks can rebuild that scheme for comparison.
//
// c_attn, whose activation error feeds q·k and hurts most, gets a second int8 pass on the
// quantization residual, also per row:  x = x̂ + r,  y = x̂·W + quant(r)·W  (r is 255× finer).
// Measured (test/tools/convert-int8.test.ts): one per-row pass everywhere misses the README
// continuation top-1 on tiny-a by one position (0.897 vs 0.923); with the c_attn second pass both
// checkpoints beat the yardstick on every figure (tiny-a 0.974 / 0.0021 continuation).
//
// Activation outliers (GPT-2's few huge residual / LayerNorm-gain / MLP channels) would take the
// whole row's int8 range: the channels the calibration pass (calibrate.ts) finds are zeroed in the
// int8 input and multiplied by their fp32 weight rows beside it (outlierChannels). Measured on a
// synthetic outlier checkpoint (test/tools/convert-int8-outliers.test.ts): top-1 / KL vs fp32 from
// 0.585 / 0.297 to 0.926 / 0.0145, better than weights-only int8 (0.899 / 0.0266).
//
// The token embedding is stored once, transposed as int8 [E, V] with per-token scales: it is the
// lm_head weight as is, and the embedding lookup gathers its columns and dequantizes them.
import { MS_DOMAIN } from "./gpt2-graph.js";
import type { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";
import { quantizeColumns, quantizeRowsTransposed, type Clipping } from "./quantize.js";
import type { WeightFormat } from "./weight-formats.js";

/** "none": weights-only int8 (fp32 activations, dequantized weights) — a measuring stick only. */
export type ActivationQuantization = "per-row" | "per-tensor" | "none";

/** Linears that get the residual second pass (matched against names like "h.3.attn.c_attn"). */
export const DEFAULT_TWO_PASS = /\.attn\.c_attn$/;

export interface Int8Options {
  /** "per-row" (default, batch-invariant) or "per-tensor" (README yardstick scheme, batch-dependent). */
  activations?: ActivationQuantization;
  /** Which linears get a second pass on the activation residual; default DEFAULT_TWO_PASS. */
  twoPass?: (linearName: string) => boolean;
  /** Weight clipping per channel; default "mse" ("absmax" reproduces the README yardstick scheme). */
  clipping?: Clipping;
  /**
   * Input channels kept out of int8, per linear (from the calibration pass, calibrate.ts): they
   * are multiplied in fp32 and left out of the row's activation scale. Default: none.
   */
  outlierChannels?: ReadonlyMap<string, readonly number[]>;
}

// Smallest normal float32: the scale floor for an all-zero row (its values quantize to 0 anyway).
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;
const QMAX = 127;

export function int8Format(wte: Float32Array, V: number, E: number, options: Int8Options = {}): WeightFormat & { quantizeLinear(name: string, w: Float32Array, K: number, N: number): QuantizedLinear } {
  const perRow = (options.activations ?? "per-row") === "per-row";
  const twoPass = options.twoPass ?? ((name: string) => DEFAULT_TWO_PASS.test(name));
  let wteQ: { q: string; scale: string } | undefined;
  const ensureWte = (g: GraphBuilder) => {
    if (!wteQ) {
      const { q, scale } = quantizeRowsTransposed(wte, V, E, options.clipping);
      wteQ = {
        q: g.initializer("wte.weight_t.int8", DataType.INT8, [E, V], q),
        scale: g.initializer("wte.weight_t.scale", DataType.FLOAT, [V], scale),
      };
    }
    return wteQ;
  };
  let constants: { inverseQmax: string; zeroPoint: string; floor: string } | undefined;
  const ensureConstants = (g: GraphBuilder) =>
    (constants ??= {
      inverseQmax: g.constF32([1 / QMAX], []),
      // uint8 zero point 128 turns the symmetric int8 grid into the uint8 input the GEMM takes.
      zeroPoint: g.op1("Constant", [], { value: { t: { dataType: DataType.UINT8, dims: [], raw: new Uint8Array([128]) } } }, { name: "const_u8" }),
      floor: g.constF32([FLOAT32_MIN_NORMAL], []),
    });

  /** x [.., K] · W [K, N] (int8, scale per column) + bias, x quantized per row (twice with `residual`). */
  const rowwiseMatMul = (g: GraphBuilder, x: string, q: string, scale: string, bias: string, residual = false): string => {
    const c = ensureConstants(g);
    // max|x| per row, floored so an all-zero row divides by a tiny scale instead of by zero.
    const rowMax = g.op1("Max", [g.op1("ReduceMax", [g.op1("Abs", [x])], { axes: { ints: [-1] }, keepdims: { i: 1 } }), c.floor]);
    // round(127·x/max) + 128, saturated to uint8: QuantizeLinear with scale 1/127 and zero point 128.
    const xq = g.op1("QuantizeLinear", [g.op1("Div", [x, rowMax]), c.inverseQmax, c.zeroPoint]);
    // Σ (xq − 128)·Wq · (1/127)·w_scale[n], then · max|x_row|: the per-row part of the scale.
    const product = g.op1("MatMulIntegerToFloat", [xq, q, c.inverseQmax, scale, c.zeroPoint], {}, { domain: MS_DOMAIN });
    let y = g.op1("Mul", [product, rowMax]);
    if (residual) {
      // The residual is taken against exactly what the first pass multiplied.
      const seen = g.op1("Mul", [g.op1("DequantizeLinear", [xq, c.inverseQmax, c.zeroPoint]), rowMax]);
      y = g.op1("Add", [y, rowwiseMatMul(g, g.op1("Sub", [x, seen]), q, scale, "")]);
    }
    return bias ? g.op1("Add", [y, bias]) : y;
  };
  // DynamicQuantizeMatMul inputs: A, B, b_scale, b_zero_point (omitted: symmetric weights), bias.
  // Per tensor, the second pass quantizes the residual of DynamicQuantizeLinear's uint8 grid.
  const tensorwiseMatMul = (g: GraphBuilder, x: string, q: string, scale: string, bias: string, residual = false): string => {
    const dqMatMul = (a: string, b: string) => g.op1("DynamicQuantizeMatMul", b ? [a, q, scale, "", b] : [a, q, scale], {}, { domain: MS_DOMAIN });
    if (!residual) return dqMatMul(x, bias);
    const [xq, xScale, xZero] = g.op("DynamicQuantizeLinear", [x], {}, { count: 3 });
    const coarse = g.op1("MatMulIntegerToFloat", [xq, q, xScale, scale, xZero, "", bias], {}, { domain: MS_DOMAIN });
    return g.op1("Add", [coarse, dqMatMul(g.op1("Sub", [x, g.op1("DequantizeLinear", [xq, xScale, xZero])]), "")]);
  };
  // Weights-only: the int8 weights dequantized in-graph, multiplied in fp32.
  const weightsOnlyMatMul = (g: GraphBuilder, x: string, q: string, scale: string, bias: string): string => {
    const y = g.op1("MatMul", [x, g.op1("DequantizeLinear", [q, scale], { axis: { i: 1 } })]);
    return bias ? g.op1("Add", [y, bias]) : y;
  };
  const matMul = options.activations === "none" ? weightsOnlyMatMul : perRow ? rowwiseMatMul : tensorwiseMatMul;

  /** A linear's int8 weights as this format stores them, wherever they go (graph or MLP kernel file). */
  const quantizeLinear = (name: string, w: Float32Array, K: number, N: number): QuantizedLinear => {
    const outliers = options.outlierChannels?.get(name) ?? [];
    const split = outliers.length ? splitOutlierRows(w, K, N, outliers) : { int8Rows: w, fp32Rows: null };
    const { q, scale } = quantizeColumns(split.int8Rows, K, N, options.clipping);
    return { q, scale, outliers, fp32Rows: split.fp32Rows };
  };

  return {
    quantizeLinear,
    embedTokens(g, inputIds) {
      const { q, scale } = ensureWte(g);
      const columns = g.op1("Gather", [q, inputIds], { axis: { i: 1 } }); // [E, B, S] int8
      const rows = g.op1("Transpose", [columns], { perm: { ints: [1, 2, 0] } }); // [B, S, E]
      const values = g.op1("Cast", [rows], { to: { i: DataType.FLOAT } });
      const scales = g.op1("Unsqueeze", [g.op1("Gather", [scale, inputIds], { axis: { i: 0 } }), g.constI64([2])]);
      return g.op1("Mul", [values, scales]);
    },
    linear(g, x, name, w, bias, K, N) {
      const { q, scale, outliers, fp32Rows } = quantizeLinear(name, w, K, N);
      const qName = g.initializer(`${name}.weight.int8`, DataType.INT8, [K, N], q);
      const sName = g.initializer(`${name}.weight.scale`, DataType.FLOAT, [N], scale);
      const bName = g.initializer(`${name}.bias`, DataType.FLOAT, [N], bias);
      if (!fp32Rows) return matMul(g, x, qName, sName, bName, twoPass(name));
      // Mixed precision (as LLM.int8()): the outlier channels are zeroed in the int8 input, so the
      // row's scale fits the ordinary channels, and multiplied by their fp32 weight rows on the
      // side. Still per row: nothing here mixes one row's numbers with another's.
      const keep = new Float32Array(K).fill(1);
      for (const k of outliers) keep[k] = 0;
      const ordinary = g.op1("Mul", [x, g.initializer(`${name}.int8_channels`, DataType.FLOAT, [K], keep)]);
      const picked = g.op1("Gather", [x, g.constI64([...outliers])], { axis: { i: -1 } });
      const side = g.op1("MatMul", [picked, g.initializer(`${name}.weight.fp32_rows`, DataType.FLOAT, [outliers.length, N], fp32Rows)]);
      return g.op1("Add", [matMul(g, ordinary, qName, sName, bName, twoPass(name)), side]);
    },
    lmHead(g, h, _logitsShape, outputName) {
      const { q, scale } = ensureWte(g);
      return g.op1("Identity", [matMul(g, h, q, scale, "")], {}, { outputs: [outputName] });
    },
  };
}

/** One linear's weights: int8 [K, N] with one scale per column N, and its outlier channels in fp32. */
export interface QuantizedLinear {
  q: Int8Array;
  scale: Float32Array;
  /** Input channels kept out of int8 (their rows of q are zero), ascending as calibrated. */
  outliers: readonly number[];
  /** fp32 [outliers.length, N]: those channels' weight rows; null without outliers. */
  fp32Rows: Float32Array | null;
}

/** The weight rows of the outlier channels (fp32, [k, N]) and the rest with those rows zeroed. */
function splitOutlierRows(w: Float32Array, K: number, N: number, outliers: readonly number[]) {
  const int8Rows = Float32Array.from(w);
  const fp32Rows = new Float32Array(outliers.length * N);
  outliers.forEach((k, i) => {
    fp32Rows.set(w.subarray(k * N, (k + 1) * N), i * N);
    int8Rows.fill(0, k * N, (k + 1) * N);
  });
  return { int8Rows, fp32Rows };
}
