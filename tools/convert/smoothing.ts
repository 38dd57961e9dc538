// SmoothQuant-style smoothing folded into the weights: the input channels of c_attn and c_fc are
// divided by s_k (the preceding LayerNorm's gain and bias shrink by it) and the linear's weight
// row k is multiplied by s_k, so x·W is unchanged and the graph costs nothing more at run time.
// s_k = max|x_k|^α / max|W_k|^(1−α) moves part of an outlier channel's range into the weights.
import type { ChannelMaxima } from "./calibrate.js";
import type { Gpt2Weights } from "./checkpoint.js";

/** Smoothed copies of the weights, and the calibrated maxima rescaled to the smoothed inputs. */
export function smoothWeights(weights: Gpt2Weights, maxima: ChannelMaxima, alpha: number): { weights: Gpt2Weights; maxima: ChannelMaxima } {
  const rescaled: ChannelMaxima = new Map(maxima);
  const layers = weights.layers.map((layer, l) => {
    const smooth = (name: string, ln: { gamma: Float32Array; beta: Float32Array }, linear: { weight: Float32Array; bias: Float32Array }) => {
      const xMax = maxima.get(name);
      if (!xMax) throw new Error(`smoothing: no calibration for ${name}`);
      const K = xMax.length;
      const N = linear.weight.length / K;
      const s = new Float32Array(K);
      for (let k = 0; k < K; k++) {
        let wMax = 0;
        for (let n = 0; n < N; n++) wMax = Math.max(wMax, Math.abs(linear.weight[k * N + n]));
        s[k] = xMax[k] > 0 && wMax > 0 ? Math.pow(xMax[k], alpha) / Math.pow(wMax, 1 - alpha) : 1;
      }
      const weight = Float32Array.from(linear.weight, (w, i) => w * s[Math.floor(i / N)]);
      rescaled.set(name, Float32Array.from(xMax, (x, k) => x / s[k]));
      return [
        { gamma: Float32Array.from(ln.gamma, (g, k) => g / s[k]), beta: Float32Array.from(ln.beta, (b, k) => b / s[k]) },
        { weight, bias: linear.bias },
      ] as const;
    };
    const [ln1, attnQkv] = smooth(`h.${l}.attn.c_attn`, layer.ln1, layer.attnQkv);
    const [ln2, mlpFc] = smooth(`h.${l}.mlp.c_fc`, layer.ln2, layer.mlpFc);
    return { ...layer, ln1, attnQkv, ln2, mlpFc };
  });
  return { weights: { ...weights, layers }, maxima: rescaled };
}
