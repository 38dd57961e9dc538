// Activation outliers for synthetic checkpoints, shaped like the ones real GPT-2 has and seeded
// random weights lack ("massive activations"):
// - residual-stream dims ~100× larger than the rest (constant-ish across tokens, entered through
//   wpe), which dominate every LayerNorm's variance;
// - LayerNorm-gain outlier dims: a few dims whose ln_1 / ln_2 gain is many times the others', so the
//   inputs of c_attn and c_fc carry a few huge channels;
// - MLP neurons that fire large: a few c_fc units per layer with a large bias, so the input of the
//   MLP's c_proj has channels hundreds of times its median (their c_proj rows are scaled down by the
//   same factor, so the residual stream sees ordinary contributions).
// The other LayerNorm gains are raised to undo the shrinking the residual outliers cause, so the
// ordinary dims keep the scale (and the model its lively greedy decoding) of a plain checkpoint.

export interface OutlierOptions {
  /** How many residual-stream dims carry a massive activation (0 disables). */
  residualDims: number;
  /** Their size relative to a typical residual entry. */
  residualScale: number;
  /** How many dims get an outlier LayerNorm gain (0 disables). */
  gainDims: number;
  /** That gain relative to the others. */
  gainScale: number;
  /** How many c_fc units per layer fire large (0 disables). */
  mlpUnits: number;
  /** Their pre-activation bias, in units of a typical pre-activation's spread. */
  mlpScale: number;
}

export const DEFAULT_OUTLIERS: OutlierOptions = { residualDims: 3, residualScale: 100, gainDims: 4, gainScale: 12, mlpUnits: 2, mlpScale: 60 };

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

// Typical |residual entry| of a plain synthetic checkpoint (wte std 0.3, wpe std 0.1).
const TYPICAL_RESIDUAL = Math.hypot(0.3, 0.1);

/** Edits the tensors of a plain synthetic checkpoint in place; `uniform` picks the dims. */
export function injectOutliers(tensors: NamedTensor[], layers: number, E: number, o: OutlierOptions, uniform: () => number): void {
  const byName = new Map(tensors.map((t) => [t.name.replace(/^transformer\./, ""), t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new Error(`synth outliers: no tensor ${name}`);
    return t.data;
  };
  const dims = pickDistinct(o.residualDims + o.gainDims, E, uniform);
  const residualDims = dims.slice(0, o.residualDims);
  const gainDims = dims.slice(o.residualDims);

  // Residual dims: a fixed sign and size per dim at every position (±5% jitter).
  const wpe = get("wpe.weight");
  const positions = wpe.length / E;
  const massive = o.residualScale * TYPICAL_RESIDUAL;
  let massiveSum = 0;
  residualDims.forEach((d, i) => {
    const sign = i % 2 === 0 ? 1 : -1;
    massiveSum += sign * massive;
    for (let p = 0; p < positions; p++) wpe[p * E + d] = sign * massive * (1 + 0.05 * (2 * uniform() - 1));
  });
  // LayerNorm divides by a standard deviation the massive dims now dominate; raising the other
  // gains by the same factor keeps their outputs at a plain checkpoint's scale. The massive dims'
  // own gain is lowered so their LayerNorm output is ~gainScale/2× the rest (ordinary in ln_f), like the gain dims'.
  const inflation = Math.sqrt(1 + (o.residualDims * massive * massive) / (E * TYPICAL_RESIDUAL * TYPICAL_RESIDUAL));
  const lnNames = [...Array.from({ length: layers }, (_, l) => [`h.${l}.ln_1`, `h.${l}.ln_2`]).flat(), "ln_f"];
  for (const ln of lnNames) {
    const gamma = get(`${ln}.weight`);
    const beta = get(`${ln}.bias`);
    for (let d = 0; d < E; d++) gamma[d] *= inflation;
    for (const d of residualDims) {
      // LayerNorm output of a massive dim before the gain: ≈ massive / (inflation · typical).
      const normed = massive / (inflation * TYPICAL_RESIDUAL);
      // ln_f feeds the tied head: there a massive dim gets an ordinary output, as GPT-2 learns.
      gamma[d] = (ln === "ln_f" ? 1 : o.gainScale / 2) / normed;
      beta[d] = 0;
    }
    if (ln !== "ln_f") for (const d of gainDims) gamma[d] *= o.gainScale; // they feed c_attn and c_fc
    // The massive dims also move the mean LayerNorm subtracts from every other dim; the bias puts
    // it back (left in, that constant offset would dominate the tied head's logits).
    const shift = massiveSum / E / (inflation * TYPICAL_RESIDUAL);
    for (let d = 0; d < E; d++) if (!residualDims.includes(d)) beta[d] += gamma[d] * shift;
  }

  // MLP units that fire large: bias far above the pre-activation spread, c_proj row scaled down.
  const I = 4 * E;
  for (let l = 0; l < layers; l++) {
    const fcBias = get(`h.${l}.mlp.c_fc.bias`);
    const fcWeight = get(`h.${l}.mlp.c_fc.weight`);
    const proj = get(`h.${l}.mlp.c_proj.weight`);
    for (const unit of pickDistinct(o.mlpUnits, I, uniform)) {
      let spread = 0;
      for (let k = 0; k < E; k++) spread += fcWeight[k * I + unit] ** 2;
      const lift = o.mlpScale * Math.sqrt(spread);
      fcBias[unit] = lift;
      for (let n = 0; n < E; n++) proj[unit * E + n] /= o.mlpScale;
    }
  }
}

function pickDistinct(count: number, range: number, uniform: () => number): number[] {
  if (count > range) throw new Error(`synth outliers: cannot pick ${count} distinct dims of ${range}`);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(uniform() * range));
  return [...picked];
}
