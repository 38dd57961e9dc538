// The MLP weights file that src/engine/lm-head/mlp.ts (MlpKernel) runs c_fc → FastGelu → c_proj
// from, in its own WebAssembly kernel instead of onnxruntime. The numbers are the int8 format's
// (int8-format.ts quantizeLinear): the same int8 weights, scales, biases and fp32 outlier rows the
// graph would hold, only laid out for the kernel, so the kernel reproduces the graph bit for bit.
//
// Layout, little-endian, for each layer in order, c_fc then c_proj, each linear as
//   int8  weights [N, K]   row n = output n's K input weights (the transpose of q [K, N]): the
//                          kernel's `matmul` reads one output's weights contiguously
//   fp32  scale   [N]
//   fp32  bias    [N]
//   fp32  outlier rows [outliers.length, N]   (absent without outliers)
// With K a multiple of 16 and N of 4 every section starts 16-byte aligned, so the kernel can use
// the file in place, as it was streamed into its memory. The outlier channel lists are not in the
// file: the manifest carries them, and MlpKernel.create needs them before any byte arrives.
import type { QuantizedLinear } from "./int8-format.js";

export type MlpLinear = QuantizedLinear & { bias: Float32Array };

/** Bytes one linear [K → N] with `outliers` fp32 channels takes in the file. */
export function mlpLinearBytes(K: number, N: number, outliers: number): number {
  return N * K + 4 * N * (2 + outliers);
}

export function encodeMlpFile(layers: { fc: MlpLinear; proj: MlpLinear }[], E: number, I: number): Uint8Array {
  if (E % 16 !== 0 || I % 16 !== 0) throw new RangeError(`MLP file: hidden (${E}) and inner (${I}) must be multiples of 16`);
  const linears = layers.flatMap(({ fc, proj }) => [
    { linear: fc, K: E, N: I },
    { linear: proj, K: I, N: E },
  ]);
  const total = linears.reduce((sum, { linear, K, N }) => sum + mlpLinearBytes(K, N, linear.outliers.length), 0);
  const file = new Uint8Array(total);
  let at = 0;
  const put = (values: Float32Array) => {
    new Float32Array(file.buffer, at, values.length).set(values);
    at += values.byteLength;
  };
  for (const { linear, K, N } of linears) {
    const { q, scale, bias, outliers, fp32Rows } = linear;
    const count = outliers.length;
    if (q.length !== K * N || scale.length !== N || bias.length !== N || (fp32Rows?.length ?? 0) !== count * N) {
      throw new RangeError(`MLP file: a linear [${K} → ${N}] with ${count} outliers has the wrong sizes`);
    }
    // q is [K, N]: write it transposed, one output's K weights after another.
    const weights = new Int8Array(file.buffer, at, N * K);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) weights[n * K + k] = q[k * N + n];
    at += N * K;
    put(scale);
    put(bias);
    if (fp32Rows) put(fp32Rows);
  }
  return file;
}
