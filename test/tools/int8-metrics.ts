// int8-vs-fp32 accuracy under teacher forcing, as the reference README's yardstick defines it:
// feed the same token sequence to both models and compare the next-token distributions at every
// position — top-1 agreement and mean KL(fp32 ‖ int8).
import { forward, logitsAt, argmax, type LoadedModel } from "./ort-runner.js";

export interface Int8Figures {
  positions: number;
  top1Agreement: number;
  meanKL: number;
}

export async function teacherForcedAgreement(fp32: LoadedModel, int8: LoadedModel, tokens: number[]): Promise<Int8Figures> {
  const V = fp32.vocab;
  const S = tokens.length;
  const [a, b] = [(await forward(fp32, [tokens])).logits, (await forward(int8, [tokens])).logits];
  return compareLogits(a, b, S, V);
}

/** Figures of `candidate` against `reference`, both [S, V] logits of the same teacher-forced sequence. */
export function compareLogits(reference: Float32Array, candidate: Float32Array, S: number, V: number): Int8Figures {
  let agree = 0;
  let kl = 0;
  for (let pos = 0; pos < S; pos++) {
    const p = logitsAt(reference, S, V, 0, pos);
    const q = logitsAt(candidate, S, V, 0, pos);
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

/** Deterministic token ids (mulberry32) so the "random tokens" figure is reproducible. */
export function seededTokens(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Math.floor(next() * vocab));
}
