// Activation outliers for synthetic checkpoints, shaped like the ones real GPT-2 has and seeded
// random weights lack ("massive activations"):
// - residual-stream dims ~100× larger than the rest (the same at every token, written by layer 0's
//   MLP), which dominate every later LayerNorm's variance;
// - LayerNorm-gain outlier dims: a few dims whose ln_1 / ln_2 gain is many times the others', so the
//   inputs of c_attn and c_fc carry a few huge channels;
// - MLP neurons that fire large: a few c_fc units per layer with a large bias, so the input of the
//   MLP's c_proj has channels hundreds of times its median (their c_proj rows are scaled down by the
//   same factor, so the residual stream sees ordinary contributions).
// The other LayerNorm gains are raised to undo the shrinking the residual outliers cause, so the
// ordinary dims keep the scale (and the model its lively greedy decoding) of a plain checkpoint.
// The weights are those of the plain checkpoint of the same seed, edited; `uniform` picks the dims.

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

export const DEFAULT_OUTLIERS: OutlierOptions = { residualDims: 3, residualScale: 100, gainDims: 4, gainScale: 12, mlpUnits: 2, mlpScale: 40 };

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Variance of a residual-stream entry at the input of the j-th LayerNorm (ln_1, ln_2 of layer 0,
 * ln_1 of layer 1, …) of a plain synthetic checkpoint: ~18·j from the second block on, measured
 * at widths 64–256 (the weights are scaled by fan-in, so it hardly depends on the width).
 */
function residualVariance(j: number): number {
  return 18 * j;
}

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

  // Residual dims: written by layer 0's MLP (its c_proj bias), as GPT-2's massive activations
  // appear after its first blocks, then carried unchanged by the residual stream.
  const massive = o.residualScale * Math.sqrt(residualVariance(2));
  const massiveSum = residualDims.reduce((sum, _, i) => sum + (i % 2 === 0 ? massive : -massive), 0);
  const projBias = get("h.0.mlp.c_proj.bias");
  residualDims.forEach((d, i) => (projBias[d] = i % 2 === 0 ? massive : -massive));

  // Every later LayerNorm divides by a standard deviation the massive dims dominate; raising the
  // other gains by that factor keeps their outputs at a plain checkpoint's scale. The massive
  // dims' own gain makes their output ~gainScale/2× the rest (ordinary in ln_f, which feeds the
  // tied head), and the bias undoes the shift they cause in the mean LayerNorm subtracts.
  const lnNames = [...Array.from({ length: layers }, (_, l) => [`h.${l}.ln_1`, `h.${l}.ln_2`]).flat(), "ln_f"];
  lnNames.forEach((ln, j) => {
    const gamma = get(`${ln}.weight`);
    const beta = get(`${ln}.bias`);
    if (ln !== "ln_f") for (const d of gainDims) gamma[d] *= o.gainScale; // they feed c_attn and c_fc
    if (j < 2 || residualDims.length === 0) return; // before layer 0's MLP wrote them
    const ordinary = Math.sqrt(residualVariance(j));
    const inflation = Math.sqrt(1 + (residualDims.length * massive * massive) / (E * ordinary * ordinary));
    const sigma = inflation * ordinary;
    for (let d = 0; d < E; d++) {
      if (residualDims.includes(d)) continue;
      gamma[d] *= inflation;
      beta[d] += (gamma[d] * massiveSum) / E / sigma;
    }
    for (const d of residualDims) {
      gamma[d] = (ln === "ln_f" ? 1 : o.gainScale / 2) / (massive / sigma);
      beta[d] = 0;
    }
  });

  // The rows of c_attn / c_fc that read an outlier channel shrink by its size, so the layer's
  // outputs keep a plain checkpoint's scale (trained GPT-2 pairs its outlier features with small
  // weights the same way): only the activations carry the outliers.
  for (let l = 0; l < layers; l++) {
    for (const [linear, N] of [["attn.c_attn", 3 * E], ["mlp.c_fc", 4 * E]] as const) {
      const w = get(`h.${l}.${linear}.weight`);
      const shrink = (d: number, by: number) => { for (let n = 0; n < N; n++) w[d * N + n] /= by; };
      for (const d of gainDims) shrink(d, o.gainScale);
      if (l > 0) for (const d of residualDims) shrink(d, o.gainScale / 2);
    }
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
