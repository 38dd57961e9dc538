// Prompt-lookup decoding in our Worker: decode speed with prompt_lookup_num_tokens off and on, on
// repetitive prompts (code, a list, a template) and on prose; repetitions interleaved.
// The bench models have synthetic weights, so what they generate — and so how many drafts they
// accept — is not what GPT-2 would: the acceptance column says how repetitive the output was,
// and the speed-up follows from it and from what verifying a few tokens at once costs.
import type { BenchWorker } from "./workerd.js";
import { median } from "./plain-loop.js";

export const LOOKUP_PROMPTS: Record<string, string> = {
  code: [
    "def add(a, b):\n    \"\"\"Return a plus b.\"\"\"\n    return a + b\n\n",
    "def sub(a, b):\n    \"\"\"Return a minus b.\"\"\"\n    return a - b\n\n",
    "def mul(a, b):\n    \"\"\"Return a times b.\"\"\"\n    return a * b\n\n",
    "def div(a, b):\n",
  ].join(""),
  list: Array.from({ length: 12 }, (_, i) => `${i + 1}. Item number ${i + 1} in the list, checked: yes\n`).join("") + "13.",
  template: Array.from({ length: 6 }, (_, i) => `{"id": ${i + 1}, "name": "user${i + 1}", "role": "member", "active": true},\n`).join("") + '{"id": 7,',
  prose:
    "The old lighthouse keeper climbed the narrow stairs every evening, counting each step as his father had " +
    "taught him. Outside, the wind pushed grey waves against the rocks, and far away a ship's horn sounded twice. " +
    "He lit the lamp, wiped the salt from the glass, and sat down with a cup of tea to watch the horizon darken.",
};
export const LOOKUP_SETTINGS = [0, 4, 8];

export interface LookupResult {
  prompt: string;
  lookupTokens: number;
  /** Per repetition: decode tokens/s and forward steps for the generation. */
  tokensPerSecond: number[];
  steps: number[];
  tokens: number;
}

export async function benchLookup(worker: BenchWorker, model: string, newTokens: number, reps: number): Promise<LookupResult[]> {
  const results: LookupResult[] = [];
  for (const prompt of Object.keys(LOOKUP_PROMPTS)) {
    for (const lookupTokens of LOOKUP_SETTINGS) results.push({ prompt, lookupTokens, tokensPerSecond: [], steps: [], tokens: newTokens });
  }
  const run = (r: LookupResult) => worker.call<{ decodeMs: number; tokens: number; steps: number }>("/lookup", { model, prompt: LOOKUP_PROMPTS[r.prompt], newTokens, lookupTokens: r.lookupTokens });
  await run(results[0]); // warm-up
  for (let rep = 0; rep < reps; rep++) {
    for (const r of rep % 2 ? [...results].reverse() : results) {
      const { decodeMs, tokens, steps } = await run(r);
      r.tokensPerSecond.push(((tokens - 1) * 1000) / decodeMs);
      r.steps.push(steps);
    }
  }
  return results;
}

export function lookupTable(results: Record<string, LookupResult[]>): string[] {
  const rows = [
    "| model | prompt | prompt_lookup_num_tokens | decode tokens/s, median [min–max] | forward steps for the tokens | tokens per step | speed-up vs off (median of per-repetition ratios) |",
    "|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const [model, list] of Object.entries(results)) {
    for (const r of list) {
      const off = list.find((o) => o.prompt === r.prompt && o.lookupTokens === 0)!;
      const ratios = r.tokensPerSecond.map((v, i) => v / off.tokensPerSecond[i]);
      const steps = median(r.steps);
      rows.push(
        `| ${model} | ${r.prompt} | ${r.lookupTokens || "off"} | ${median(r.tokensPerSecond).toFixed(1)} [${Math.min(...r.tokensPerSecond).toFixed(1)}–${Math.max(...r.tokensPerSecond).toFixed(1)}] | ` +
          `${steps} for ${r.tokens} | ${((r.tokens - 1) / steps).toFixed(2)} | ${r.lookupTokens ? `${median(ratios).toFixed(2)}× [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]` : ""} |`,
      );
    }
  }
  return rows;
}

export const lookupResults = (results: Record<string, { lookup: LookupResult[] }>) => Object.fromEntries(Object.entries(results).map(([model, r]) => [model, r.lookup]));
