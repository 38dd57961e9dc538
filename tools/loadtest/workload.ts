// The requests of one load-test run, generated from a seed so a failing run can be repeated: a mix
// of greedy, sampled with a seed and sampled without one; streamed and not; short and long prompts;
// different settings. Every prompt carries its request's number, so no two requests are identical
// (identical requests in flight would be coalesced into one run and could not show cross-talk).
import { createRng } from "../../src/sampling/rng";
import type { GenerateRequest } from "../../src/generation/request";

export type Kind = "greedy" | "seeded" | "unseeded";

/** A /v1/generate body as the load test sends it (the service's request, plus the transport's stream). */
export type GenerateBody = Omit<GenerateRequest, "max_new_tokens" | "logit_bias" | "logprobs" | "cache"> & { max_new_tokens: number; stream?: boolean };

export interface LoadRequest {
  id: number;
  kind: Kind;
  long: boolean;
  body: GenerateBody;
}

/** Same request → same output: greedy, or sampled with an explicit seed. */
export const isDeterministic = (request: LoadRequest): boolean => request.kind !== "unseeded";

const SHORT_PROMPTS = [
  "Once upon a time",
  "The weather today is",
  "In a shocking finding, scientists discovered",
  "Ünïcödé test — ça va? 日本語 🙂",
  "def fibonacci(n):",
  "",
];

const PARAGRAPH =
  "The history of the region is long and complicated. Settlers arrived from the coast and built " +
  "farms along the river, where the soil was rich and the winters were mild. Over the centuries the " +
  "villages grew into towns, and the towns into a small city with a market, a harbour and a school. ";

export interface WorkloadOptions {
  count: number;
  seed: number;
  /** Largest max_new_tokens to ask for. */
  maxNewTokens: number;
  /** Approximate tokens of a long prompt (the paragraph is ~60 tokens). */
  longPromptTokens: number;
}

export function buildWorkload(options: WorkloadOptions): LoadRequest[] {
  const random = createRng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const chance = (p: number) => random() < p;

  return Array.from({ length: options.count }, (_, id) => {
    const kind: Kind = pick(["greedy", "greedy", "seeded", "seeded", "unseeded"] as const);
    const long = chance(0.3);
    const tag = `[request ${id}]`;
    let prompt: string;
    if (long) {
      const repeats = Math.max(1, Math.round((options.longPromptTokens * (0.5 + random())) / 60));
      // The tag at the end for half of them: long prompts then share prefixes (prefix KV reuse).
      prompt = chance(0.5) ? `${PARAGRAPH.repeat(repeats)}${tag}` : `${tag} ${PARAGRAPH.repeat(repeats)}`;
    } else {
      const text = pick(SHORT_PROMPTS);
      prompt = chance(0.5) ? `${tag} ${text}` : `${text} ${tag}`;
    }
    const body: GenerateBody = { prompt, max_new_tokens: between(1, options.maxNewTokens) };
    if (chance(0.5)) body.stream = true;
    if (kind !== "greedy") {
      body.do_sample = true;
      if (chance(0.5)) body.temperature = pick([0.5, 0.8, 1.3]);
      if (chance(0.5)) body.top_k = pick([0, 5, 40]);
      if (chance(0.3)) body.top_p = pick([0.5, 0.9]);
      if (chance(0.3)) body.num_return_sequences = between(2, 3);
      if (kind === "seeded") body.seed = Math.floor(random() * 2 ** 32);
    }
    if (chance(0.2)) body.repetition_penalty = pick([1.2, 1.5]);
    if (chance(0.2)) body.no_repeat_ngram_size = pick([2, 3]);
    if (chance(0.15)) body.min_new_tokens = Math.min(body.max_new_tokens, between(1, 8));
    // With random weights a one-letter stop string is hit now and then; a space more often.
    if (chance(0.2)) body.stop = [pick(["e", " a", ".", "\n"]), ...(chance(0.5) ? ["zz"] : [])];
    if (chance(0.1)) body.presence_penalty = pick([-1, 0.5, 1.5]);
    if (chance(0.1)) body.frequency_penalty = pick([0.5, 1]);
    return { id, kind, long, body };
  });
}
