// The table of tools/bench/sharded-isolates.ts: per isolate of a sharded deployment (front, each
// shard), each phase's peak isolate total (JS heap / ArrayBuffers / WASM at that sample), against
// the 120 MiB every isolate must stay under (issues 12 and 14).
import { mibFigure as mib, MiB, type PhaseMemory } from "../lib/isolate-memory.js";
import type { ShardedIsolatesResult } from "./sharded-isolates.js";

export const ISOLATE_TARGET_BYTES = 120 * MiB;

const cell = (p: PhaseMemory | undefined) => (p === undefined ? "—" : `**${mib(p.peak.total)}** (${mib(p.peak.heapUsed)} / ${mib(p.peak.backingStores)} / ${mib(p.peak.wasm)}); GC → ${mib(p.after.total)}`);

export function shardedIsolatesTable(r: ShardedIsolatesResult): string[] {
  const how = r.runs === 1 ? "every isolate watched at once, one run" : `one isolate per run: the same deterministic workload ${r.runs} times`;
  const vars = Object.entries(r.vars).map(([name, value]) => `${name}=${value}`).join(", ");
  const rows = [
    `${r.model}, ${r.layers.length} shards, served by the real front (${vars ? `deployed memory config but ${vars}` : "deployed memory config"}, local R2; ${how}). ` +
      "Peak isolate total, MiB (JS heap / ArrayBuffers / WASM at that sample); GC → after a full GC:",
    `| isolate | idle | ${r.phases.join(" | ")} | every sample ≤ 120 MiB? |`,
    `|---|---:|${r.phases.map(() => "---:|").join("")}---|`,
  ];
  for (const i of r.isolates) {
    const who = i.name === "front" ? "front (tokenizer, LM-head kernel, scheduler)" : `shard ${i.name}, blocks ${r.layers[i.name][0]}–${r.layers[i.name][1] - 1}`;
    const complete = i.phases.length === r.phases.length && i.phases.every((p) => p !== undefined);
    const fits = complete && i.phases.every((p) => p!.peak.total <= ISOLATE_TARGET_BYTES);
    rows.push(`| ${who} | ${mib(i.idle.total)} | ${i.phases.map(cell).join(" | ")} | ${!complete ? "incomplete" : fits ? "yes" : "**no**"} |`);
  }
  const notes: string[] = [];
  if (r.budget) notes.push(`The front's KV byte budget (/v1/info): ${mib(r.budget.kv_budget_bytes)} MiB, ${r.budget.kv_bytes_per_token} bytes per token → ${r.budget.tokens_in_flight} tokens in flight.`);
  if (r.rowsTogether > 0) notes.push(`At most ${r.rowsTogether} rows held by a shard at once during the rows-at-once phase (polled through /v1/info).`);
  r.mixedStatuses.forEach((s, i) => notes.push(`Mixed round ${i + 1}: ${Object.entries(s).map(([status, n]) => `${n} × HTTP ${status}`).join(", ")}.`));
  if (r.failures.length) notes.push("Phases that did not complete:", ...r.failures.map((f) => `- ${f}`));
  return [...rows, ...(notes.length ? ["", ...notes] : [])];
}
