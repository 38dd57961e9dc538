// Top-1 agreement and mean KL between two models' logits under teacher forcing. Pure functions
// (no onnxruntime, no Node APIs), so the tests inside workerd use them too.

export interface Int8Figures {
  positions: number;
  top1Agreement: number;
  meanKL: number;
}

/** Figures of `candidate` against `reference`, both [S, V] logits of the same teacher-forced sequence. */
export function compareLogits(reference: Float32Array, candidate: Float32Array, S: number, V: number): Int8Figures {
  let agree = 0;
  let kl = 0;
  for (let pos = 0; pos < S; pos++) {
    const p = reference.subarray(pos * V, (pos + 1) * V);
    const q = candidate.subarray(pos * V, (pos + 1) * V);
    if (argmax(p) === argmax(q)) agree++;
    kl += klDivergence(p, q);
  }
  return { positions: S, top1Agreement: agree / S, meanKL: kl / S };
}

/** Position-weighted mean of several sequences' figures. */
export function pooled(figures: Int8Figures[]): Int8Figures {
  const positions = figures.reduce((n, f) => n + f.positions, 0);
  const mean = (key: "top1Agreement" | "meanKL") => figures.reduce((sum, f) => sum + f[key] * f.positions, 0) / positions;
  return { positions, top1Agreement: mean("top1Agreement"), meanKL: mean("meanKL") };
}

/** KL(softmax(p) ‖ softmax(q)) in float64. */
export function klDivergence(p: Float32Array, q: Float32Array): number {
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let kl = 0;
  for (let i = 0; i < p.length; i++) kl += Math.exp(lp[i]) * (lp[i] - lq[i]);
  return kl;
}

function logSoftmax(x: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(x, (v) => v - logZ);
}


function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
