// int8-vs-fp32 accuracy under teacher forcing, as the reference README's yardstick defines it:
// feed the same token sequence to both models and compare the next-token distributions at every
// position — top-1 agreement and mean KL(fp32 ‖ int8).
import { compareLogits, type Int8Figures } from "./logit-figures.js";
import { forward, type LoadedModel } from "./ort-runner.js";

export { compareLogits, klDivergence, pooled, type Int8Figures } from "./logit-figures.js";


export async function teacherForcedAgreement(fp32: LoadedModel, int8: LoadedModel, tokens: number[]): Promise<Int8Figures> {
  const V = fp32.vocab;
  const S = tokens.length;
  const [a, b] = [(await forward(fp32, [tokens])).logits, (await forward(int8, [tokens])).logits];
  return compareLogits(a, b, S, V);
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
