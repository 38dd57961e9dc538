// Weight-only symmetric int8 quantization, one scale per output channel. The clipping threshold of
// each channel is chosen to minimise the squared reconstruction error instead of using the plain
// absolute maximum: a rare large weight otherwise stretches the grid for all the others.

export interface QuantizedMatrix {
  /** int8 values, same [rows, cols] layout as documented by the producing function. */
  q: Int8Array;
  /** One dequantization scale per channel: w ≈ q * scale. */
  scale: Float32Array;
}

export type Clipping = "mse" | "absmax";

const QMAX = 127; // symmetric: -127..127, so zero point is exactly 0 and -128 is never used

/** Quantize a row-major [K, N] matrix (Conv1D x @ W layout) with one scale per output column N. */
export function quantizeColumns(w: Float32Array, K: number, N: number, clipping: Clipping = "mse"): QuantizedMatrix {
  const q = new Int8Array(K * N);
  const scale = new Float32Array(N);
  const column = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) column[k] = w[k * N + n];
    const s = channelScale(column, clipping);
    scale[n] = s;
    for (let k = 0; k < K; k++) q[k * N + n] = quantizeValue(column[k], s);
  }
  return { q, scale };
}

/**
 * Quantize a row-major [R, C] matrix with one scale per row R and return it transposed as [C, R].
 * Used for the token embedding: [V, E] rows become the columns of the tied lm_head [E, V].
 */
export function quantizeRowsTransposed(w: Float32Array, R: number, C: number, clipping: Clipping = "mse"): QuantizedMatrix {
  const { q: rows, scale } = quantizeRows(w, R, C, clipping);
  const q = new Int8Array(R * C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) q[c * R + r] = rows[r * C + c];
  return { q, scale };
}

/**
 * Quantize a row-major [R, C] matrix with one scale per row R, kept as [R, C]: the token
 * embedding as the int8 LM-head kernel holds it (row r is token r); quantizeRowsTransposed is the
 * same numbers in the graph's layout.
 */
export function quantizeRows(w: Float32Array, R: number, C: number, clipping: Clipping = "mse"): QuantizedMatrix {
  const q = new Int8Array(R * C);
  const scale = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    const row = w.subarray(r * C, (r + 1) * C);
    const s = channelScale(row, clipping);
    scale[r] = s;
    for (let c = 0; c < C; c++) q[r * C + c] = quantizeValue(row[c], s);
  }
  return { q, scale };
}

function quantizeValue(x: number, s: number): number {
  const v = Math.round(x / s);
  return v > QMAX ? QMAX : v < -QMAX ? -QMAX : v;
}

function channelScale(values: Float32Array, clipping: Clipping): number {
  if (clipping === "mse") return bestScale(values);
  let absMax = 0;
  for (let i = 0; i < values.length; i++) absMax = Math.max(absMax, Math.abs(values[i]));
  return absMax === 0 ? 1 : absMax / QMAX;
}

/** Scale minimising Σ (dequant(quant(x)) - x)², searched over clipping ratios of the abs-max. */
export function bestScale(values: Float32Array): number {
  let absMax = 0;
  for (let i = 0; i < values.length; i++) absMax = Math.max(absMax, Math.abs(values[i]));
  if (absMax === 0) return 1; // all-zero channel: any scale reconstructs it exactly
  // Coarse grid over [0.5, 1] then a fine grid around the best coarse ratio.
  let best = { ratio: 1, error: squaredError(values, absMax / QMAX) };
  for (let ratio = 0.95; ratio >= 0.499; ratio -= 0.05) best = pick(values, absMax, ratio, best);
  const centre = best.ratio;
  for (let ratio = centre - 0.04; ratio <= centre + 0.0401; ratio += 0.01) {
    if (ratio <= 1 && ratio > 0.3) best = pick(values, absMax, ratio, best);
  }
  return (absMax * best.ratio) / QMAX;
}

function pick(values: Float32Array, absMax: number, ratio: number, best: { ratio: number; error: number }) {
  const error = squaredError(values, (absMax * ratio) / QMAX);
  return error < best.error ? { ratio, error } : best;
}

function squaredError(values: Float32Array, s: number): number {
  let error = 0;
  for (let i = 0; i < values.length; i++) {
    const d = quantizeValue(values[i], s) * s - values[i];
    error += d * d;
  }
  return error;
}
