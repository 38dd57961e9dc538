// Speed of every engine on one model, measured so a shared, noisy machine cannot favour one: each
// repetition runs every engine at every context (and the TTFT prompt) before the next repetition
// starts, in an order that rotates between repetitions. A figure is the median over repetitions of
// each repetition's median step; ratios are taken repetition by repetition (both engines measured
// within seconds of each other), then their median and spread reported.
import { median } from "./plain-loop.js";
import type { EngineResult, SpeedPlan } from "./plan.js";

/** One engine as the interleaving drives it: a greedy generation of `newTokens` from a prompt. */
export interface EngineRunner {
  coldStartMs: number;
  /** ttftMs: request start to first token; prefillMs: the prompt's forward pass alone (may equal
   * ttftMs); stepMs: each decode step after the first token. */
  generate(promptTokens: number, newTokens: number): Promise<{ ttftMs: number; prefillMs: number; stepMs: number[] }>;
}

export async function interleavedSpeed<Name extends string>(
  runners: Record<Name, EngineRunner>,
  plan: SpeedPlan,
  log: (line: string) => void,
): Promise<Record<Name, EngineResult>> {
  const names = Object.keys(runners) as Name[];
  const runs = Object.fromEntries(names.map((name) => [name, { ttft: [] as number[], prefill: [] as number[], decode: {} as Record<number, number[]> }])) as Record<
    Name,
    { ttft: number[]; prefill: number[]; decode: Record<number, number[]> }
  >;
  for (const name of names) await runners[name].generate(8, 3); // warm-up: first-run allocations
  for (let rep = 0; rep < plan.reps; rep++) {
    log(`  repetition ${rep + 1}/${plan.reps}`);
    const order = names.map((_, i) => names[(i + rep) % names.length]);
    for (const context of plan.contexts) {
      for (const name of order) {
        const { stepMs } = await runners[name].generate(context, plan.decodeSteps + 1);
        (runs[name].decode[context] ??= []).push(median(stepMs));
      }
    }
    for (const name of order) {
      const first = await runners[name].generate(plan.prefillTokens, 1);
      runs[name].ttft.push(first.ttftMs);
      runs[name].prefill.push(first.prefillMs);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const r = runs[name];
      const decodeMs = Object.fromEntries(Object.entries(r.decode).map(([context, xs]) => [context, median(xs)]));
      const result: EngineResult = { coldStartMs: runners[name].coldStartMs, prefillMs: median(r.prefill), ttftMs: median(r.ttft), decodeMs, runs: { ttftMs: r.ttft, decodeMs: r.decode } };
      return [name, result];
    }),
  ) as Record<Name, EngineResult>;
}

/** Ours ÷ theirs per repetition (speeds: their ms ÷ our ms), as "median× [min–max]". */
export function pairedRatio(theirs: number[], ours: number[]): { median: number; min: number; max: number } {
  const ratios = ours.map((ms, i) => theirs[i] / ms);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}
