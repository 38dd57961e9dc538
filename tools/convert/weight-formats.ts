// How weights enter the graph. The transformer structure (gpt2-graph.ts) is the same for both
// dtypes; only the token embedding, the four per-layer matmuls and the tied lm_head differ.
import type { GraphBuilder } from "./graph-builder.js";
import { DataType } from "./onnx-schema.js";

export interface WeightFormat {
  /** Token embedding lookup: int64 [B, S] → float [B, S, E]. */
  embedTokens(g: GraphBuilder, inputIds: string): string;
  /** y = x @ W + b for a Conv1D weight W [K, N]. */
  linear(g: GraphBuilder, x: string, name: string, w: Float32Array, bias: Float32Array, K: number, N: number): string;
  /** Tied lm_head: float [B, S, E] → logits [B, S, V]; `logitsShape()` builds that shape on demand. */
  lmHead(g: GraphBuilder, h: string, logitsShape: () => string, outputName: string): string;
}

/** fp32: wte stored once [V, E]; lm_head is Gemm with transB so no transposed copy is needed. */
export function fp32Format(wte: Float32Array, V: number, E: number): WeightFormat {
  let wteName = "";
  const ensureWte = (g: GraphBuilder) => (wteName ||= g.initializer("wte.weight", DataType.FLOAT, [V, E], wte));
  return {
    embedTokens(g, inputIds) {
      return g.op1("Gather", [ensureWte(g), inputIds], { axis: { i: 0 } });
    },
    linear(g, x, name, w, bias, K, N) {
      const wName = g.initializer(`${name}.weight`, DataType.FLOAT, [K, N], w);
      const bName = g.initializer(`${name}.bias`, DataType.FLOAT, [N], bias);
      return g.op1("Add", [g.op1("MatMul", [x, wName]), bName]);
    },
    lmHead(g, h, logitsShape, outputName) {
      // Gemm is 2-D only: flatten [B, S, E] → [B*S, E], multiply by wteᵀ, restore [B, S, V].
      const flat = g.op1("Reshape", [h, g.constI64([-1, E])]);
      const logits2d = g.op1("Gemm", [flat, ensureWte(g)], { transB: { i: 1 } });
      return g.op1("Reshape", [logits2d, logitsShape()], {}, { outputs: [outputName] });
    },
  };
}
