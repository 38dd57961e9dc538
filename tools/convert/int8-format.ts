// int8 weights for onnxruntime-web's WASM kernels: com.microsoft DynamicQuantizeMatMul (activation
// quantized per tensor to uint8 at run time, int8 weights with one scale per output column). It has
// fast WASM kernels, unlike MatMulNBits. Weight quantization: symmetric, per channel, MSE clipping.
//
// Per-tensor uint8 activations are the larger error source. For c_attn, whose error feeds q·k and
// hurts most (measured), we add a second int8 pass on the activation's quantization residual:
//   x ≈ x̂ + r,  x̂ = dequant(quant(x)),  r = x − x̂ (255× smaller range, so finely quantized)
//   y = x̂·W + quant(r)·W
// which removes almost all activation error for that matmul, still entirely int8 kernels.
// Measured on a GPT-2-124M-shaped model (WASM, 1 thread, decode at context 16): two passes on
// c_attn + both c_proj cost ~85% more per token than one pass everywhere, and onnxruntime's WASM
// int8 GEMM repacks the weights on every call, so every extra pass is paid in full. c_attn alone
// keeps the README yardstick on both reference checkpoints (test/tools/convert-int8.test.ts).
//
// The token embedding is stored once, transposed as int8 [E, V] with per-token scales: it is the
// lm_head weight as is, and the embedding lookup gathers its columns and dequantizes them.
import { MS_DOMAIN } from "./gpt2-graph.js";
import type { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";
import { quantizeColumns, quantizeRowsTransposed, type Clipping } from "./quantize.js";
import type { WeightFormat } from "./weight-formats.js";


/** Linears that get the residual second pass (matched against names like "h.3.attn.c_attn"). */
export const DEFAULT_TWO_PASS = /\.attn\.c_attn$/;

export interface Int8Options {
  /** Which linears get two-pass activation quantization; default DEFAULT_TWO_PASS. */
  twoPass?: (linearName: string) => boolean;
  /** Weight clipping per channel; default "mse" ("absmax" reproduces the README yardstick scheme). */
  clipping?: Clipping;
}

export function int8Format(wte: Float32Array, V: number, E: number, options: Int8Options = {}): WeightFormat {
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
  // Inputs: A, B, b_scale, b_zero_point (omitted: symmetric weights, zero point 0), bias.
  const dqMatMul = (g: GraphBuilder, x: string, q: string, scale: string, bias: string, outputs?: string[]) =>
    g.op1("DynamicQuantizeMatMul", bias ? [x, q, scale, "", bias] : [x, q, scale], {}, { domain: MS_DOMAIN, outputs });

  return {
    embedTokens(g, inputIds) {
      const { q, scale } = ensureWte(g);
      const columns = g.op1("Gather", [q, inputIds], { axis: { i: 1 } }); // [E, B, S] int8
      const rows = g.op1("Transpose", [columns], { perm: { ints: [1, 2, 0] } }); // [B, S, E]
      const values = g.op1("Cast", [rows], { to: { i: DataType.FLOAT } });
      const scales = g.op1("Unsqueeze", [g.op1("Gather", [scale, inputIds], { axis: { i: 0 } }), g.constI64([2])]);
      return g.op1("Mul", [values, scales]);
    },
    linear(g, x, name, w, bias, K, N) {
      const { q, scale } = quantizeColumns(w, K, N, options.clipping);
      const qName = g.initializer(`${name}.weight.int8`, DataType.INT8, [K, N], q);
      const sName = g.initializer(`${name}.weight.scale`, DataType.FLOAT, [N], scale);
      const bName = g.initializer(`${name}.bias`, DataType.FLOAT, [N], bias);
      if (!twoPass(name)) return dqMatMul(g, x, qName, sName, bName);
      // Quantize x once explicitly so the residual is exact with respect to what the first pass saw.
      const [xq, xScale, xZero] = g.op("DynamicQuantizeLinear", [x], {}, { count: 3 });
      const coarse = g.op1("MatMulIntegerToFloat", [xq, qName, xScale, sName, xZero, "", bName], {}, { domain: MS_DOMAIN });
      const residual = g.op1("Sub", [x, g.op1("DequantizeLinear", [xq, xScale, xZero])]);
      return g.op1("Add", [coarse, dqMatMul(g, residual, qName, sName, "")]);
    },
    lmHead(g, h, _logitsShape, outputName) {
      const { q, scale } = ensureWte(g);
      return dqMatMul(g, h, q, scale, "", [outputName]);
    },
  };
}
