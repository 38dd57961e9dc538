// The isolate-memory table (issue 12): per model, the isolate total as the platform counts it
// (JS heap + ArrayBuffers + WASM) at each phase's peak, next to the target.
import { mibFigure as mib, type PhaseMemory } from "../lib/isolate-memory.js";
import type { IsolateResult } from "./isolate-phases.js";

const MiB = 2 ** 20;
/** "peak (JS heap / ArrayBuffers / WASM at that sample)". */
const phase = (p: PhaseMemory | undefined) => (p === undefined ? "—" : `**${mib(p.peak.total)}** (${mib(p.peak.heapUsed)} / ${mib(p.peak.backingStores)} / ${mib(p.peak.wasm)})`);

/**
 * The load's peak: the largest sample, or — when larger — the peak inside session creation (weights
 * still held + WASM, recorded by the Worker where no sampler can look) plus the JS heap then.
 */
export function loadPeak(r: IsolateResult): number {
  if (!r.load) return Infinity;
  return Math.max(r.load.peak.total, (r.createPeakBytes || 0) + r.load.peak.heapUsed);
}

/** Targets of issue 12: distilgpt2 ≤ 120 MiB at every sample; GPT-2-124M's load peak ≤ weights + 24 MiB. */
function target(model: string, r: IsolateResult): { text: string; met: boolean; note?: string } | null {
  // A phase the budget refuses (it can never fit) is no sample; the longest that fits stands for it.
  const peaks = [loadPeak(r), ...[r.single ?? r.longest, r.concurrent, r.mixed, ...r.soak].map((p) => p?.peak.total ?? Infinity)];
  if (model === "distilgpt2") {
    const refused = !r.single && r.longest ? ` (1 × ${r.plan.memoryTokens} refused: it never fits)` : "";
    return { text: "every sample ≤ 120 MiB", met: peaks.every((t) => t <= 120 * MiB), note: refused };
  }
  if (model === "gpt2") return { text: `load peak ≤ weights + 24 = ${mib(r.weightBytes + 24 * MiB)}`, met: peaks[0] <= r.weightBytes + 24 * MiB };
  return null;
}

export function isolateTable(results: Record<string, IsolateResult>): string[] {
  const first = Object.values(results)[0]?.plan;
  if (!first) return [];
  const rows = [
    `| model | int8 weights (graph + embedding) | idle | load peak | in session creation | 1 × ${first.memoryTokens} tokens, peak | 1 × the longest that fits, peak | ${first.isolateRows} × ${first.isolateTokens} tokens at once, peak | ` +
      `after ${first.mixedRequests} mixed requests (after GC), then after each further round | KV budget (tokens in flight) | target | met? | WASM after load: inspector / read in the isolate |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
  ];
  for (const [model, i] of Object.entries(results)) {
    const goal = target(model, i);
    const m = i.mixed;
    const rounds = i.soak.map((p) => ` → ${mib(p.after.total)} (peak ${mib(p.peak.total)})`).join("");
    const after = m === undefined ? "—" : `**${mib(m.after.total)}** (${mib(m.after.heapUsed)} / ${mib(m.after.backingStores)} / ${mib(m.after.wasm)}; peak ${phase(m)})${rounds}`;
    const creation = Number.isFinite(i.createPeakBytes) ? `${mib(i.createPeakBytes + (i.load?.peak.heapUsed ?? 0))} (weights held + WASM ${mib(i.createPeakBytes)})` : "—";
    const budget = i.kvBudget ? `${mib(i.kvBudget.batchBytes)} (${Math.floor(i.kvBudget.batchBytes / i.kvBudget.bytesPerPosition)})` : "none";
    rows.push(
      `| ${model} | ${mib(i.weightBytes)} | ${mib(i.idle.total)} | ${phase(i.load)} | ${creation} | ${phase(i.single)} | ${i.longest ? `${i.longest.tokens} tokens: ${phase(i.longest)}` : "—"} | ${i.concurrent && i.concurrent.tokens !== i.plan.isolateTokens ? `${i.plan.isolateRows} × ${i.concurrent.tokens}: ` : ""}${phase(i.concurrent)} | ${after} | ${budget} | ` +
        `${goal?.text ?? "—"} | ${goal === null ? "no target" : goal.met ? "yes" : "**no**"}${goal?.note ?? ""} | ` +
        `${i.load ? mib(i.load.after.wasm) : "—"} / ${mib(i.wasmInsideAfterLoad)} |`,
    );
  }
  const failures = Object.entries(results).flatMap(([model, i]) => i.failures.map((f) => `- ${model}, ${f}`));
  return failures.length === 0 ? rows : [...rows, "", "Phases that did not complete:", ...failures];
}
export const ISOLATE_METHOD =
  "MiB. Isolate total = JS heap in use + ArrayBuffer backing stores + WebAssembly memory (in brackets, in that order), " +
  "read from outside through the V8 inspector that wrangler exposes (tools/lib/isolate-memory.ts): `Runtime.getHeapUsage` " +
  "gives the JS heap and backing stores (its backingStorageSize leaves WebAssembly memory out, checked in workerd), and " +
  "every WebAssembly.Memory is summed inside the isolate. Sampled every 25 ms while a phase runs (the inspector answers " +
  "between forward steps), peak shown; after the mixed requests the figure follows a forced full GC. Inside onnxruntime's " +
  "one synchronous session creation the bench Worker records the weights still held + WASM at every initializer read " +
  "(\"in session creation\", with the JS heap of the load's peak sample added). The model is served from local R2 and " +
  "runs the deployment's memory config (ISOLATE_MEMORY_BYTES default, its KV byte budget: rows beyond it queue; a " +
  "request that can never fit is refused and listed below the table, and the longest single generation that fits is " +
  "measured instead). The last column cross-checks the WASM figure against the bench Worker's own reading of ORT's memory.";
