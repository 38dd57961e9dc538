// The isolate-memory table (issue 12): per model, the isolate total as the platform counts it
// (JS heap + ArrayBuffers + WASM) at each phase's peak, next to the target.
import type { PhaseMemory } from "../lib/isolate-memory.js";
import type { IsolateResult } from "./isolate-phases.js";

const MiB = 2 ** 20;
const mib = (b: number) => `${(b / MiB).toFixed(1)}`;
/** "peak (JS heap / ArrayBuffers / WASM at that sample)". */
const phase = (p: PhaseMemory | undefined) => (p === undefined ? "—" : `**${mib(p.peak.total)}** (${mib(p.peak.heapUsed)} / ${mib(p.peak.backingStores)} / ${mib(p.peak.wasm)})`);

/** Targets of issue 12: distilgpt2 ≤ 120 MiB at every sample; GPT-2-124M's load peak ≤ weights + 24 MiB. */
function target(model: string, r: IsolateResult): { text: string; met: boolean } | null {
  const peaks = [r.load, r.single, r.concurrent, r.mixed].map((p) => p?.peak.total ?? Infinity);
  if (model === "distilgpt2") return { text: "every sample ≤ 120 MiB", met: peaks.every((t) => t <= 120 * MiB) };
  if (model === "gpt2") return { text: `load peak ≤ weights + 24 = ${mib(r.weightBytes + 24 * MiB)}`, met: peaks[0] <= r.weightBytes + 24 * MiB };
  return null;
}

export function isolateTable(results: Record<string, IsolateResult>): string[] {
  const first = Object.values(results)[0]?.plan;
  if (!first) return [];
  const rows = [
    `| model | int8 weights | idle | load peak | 1 × ${first.memoryTokens} tokens, peak | ${first.isolateRows} × ${first.isolateTokens} tokens at once, peak | ` +
      `after ${first.mixedRequests} mixed requests (after GC) | target | met? | WASM after load: inspector / read in the isolate |`,
    "|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
  ];
  for (const [model, i] of Object.entries(results)) {
    const goal = target(model, i);
    const m = i.mixed;
    const after = m === undefined ? "—" : `**${mib(m.after.total)}** (${mib(m.after.heapUsed)} / ${mib(m.after.backingStores)} / ${mib(m.after.wasm)}; peak ${mib(m.peak.total)})`;
    rows.push(
      `| ${model} | ${mib(i.weightBytes)} | ${mib(i.idle.total)} | ${phase(i.load)} | ${phase(i.single)} | ${phase(i.concurrent)} | ${after} | ` +
        `${goal?.text ?? "—"} | ${goal === null ? "no target" : goal.met ? "yes" : "**no**"}${i.failure ? ` (failed at ${i.failure})` : ""} | ` +
        `${i.load ? mib(i.load.after.wasm) : "—"} / ${mib(i.wasmInsideAfterLoad)} |`,
    );
  }
  return rows;
}
export const ISOLATE_METHOD =
  "MiB. Isolate total = JS heap in use + ArrayBuffer backing stores + WebAssembly memory (in brackets, in that order), " +
  "read from outside through the V8 inspector that wrangler exposes (tools/lib/isolate-memory.ts): `Runtime.getHeapUsage` " +
  "gives the JS heap and backing stores (its backingStorageSize leaves WebAssembly memory out, checked in workerd), and " +
  "every WebAssembly.Memory is summed inside the isolate. Sampled every 25 ms while a phase runs (the inspector answers " +
  "between forward steps), peak shown; after the mixed requests the figure follows a forced full GC. The last column " +
  "cross-checks the WASM figure against the bench Worker's own reading of ORT's memory.";
