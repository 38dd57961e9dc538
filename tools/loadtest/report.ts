// Figures of a load-test run and the table that shows them, with each of the targets.
import type { StreamThroughput } from "./speedup";
import type { Kind } from "./workload";

export interface PhaseStats {
  requests: number;
  ok: number;
  errors: number;
  mismatches: number;
  /** Greedy ones are the strict check; sampled ones can also flip on float rounding (see README). */
  mismatchesByKind: Record<Kind, number>;
  latencies: number[];
  ttfts: number[];
  completionTokens: number;
  wallSeconds: number;
}

export interface Report {
  model: string;
  clients: number;
  baseline: { sent: number; errors: number; problems: number };
  load: PhaseStats;
  /** Unseeded sampled requests replayed alone with the seed the server chose. */
  replay: { sent: number; errors: number; mismatches: number };
  single: StreamThroughput;
  batched: StreamThroughput;
}

export const TARGETS = { clients: 32, speedup: 2.5 };

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(0)} ms` : "–");
const rate = (value: number) => `${value.toFixed(1)} tok/s`;

export interface TargetResult {
  name: string;
  met: boolean;
  detail: string;
}

export function targetsOf(report: Report): TargetResult[] {
  const errors = report.load.errors + report.baseline.errors + report.replay.errors + report.single.errors.length + report.batched.errors.length;
  const mismatches = report.load.mismatches + report.baseline.problems + report.replay.mismatches;
  const speedup = report.batched.tokensPerSecond / report.single.tokensPerSecond;
  return [
    { name: `${TARGETS.clients} concurrent clients`, met: report.clients >= TARGETS.clients, detail: `${report.clients} clients` },
    { name: "zero errors", met: errors === 0, detail: `${errors} errors` },
    { name: "zero mismatches", met: mismatches === 0, detail: `${mismatches} mismatches` },
    {
      name: `${report.batched.streams} streams ≥ ${TARGETS.speedup}× one`,
      met: speedup >= TARGETS.speedup,
      detail: `${speedup.toFixed(2)}×`,
    },
  ];
}

export function formatReport(report: Report): string {
  const { load } = report;
  const rows: [string, string][] = [
    ["model", report.model],
    ["concurrent clients", String(report.clients)],
    ["requests under load (ok / sent)", `${load.ok} / ${load.requests} in ${load.wallSeconds.toFixed(1)} s`],
    ["latency p50 / p99", `${ms(percentile(load.latencies, 50))} / ${ms(percentile(load.latencies, 99))}`],
    ["time to first token p50 / p99 (streams)", `${ms(percentile(load.ttfts, 50))} / ${ms(percentile(load.ttfts, 99))}`],
    ["aggregate throughput under load", rate(load.completionTokens / load.wallSeconds)],
    ["errors under load (non-2xx, broken streams, timeouts)", String(load.errors)],
    ["mismatches under load (vs. alone, or inconsistent)", String(load.mismatches)],
    ["  of which greedy / seeded / unseeded", `${load.mismatchesByKind.greedy} / ${load.mismatchesByKind.seeded} / ${load.mismatchesByKind.unseeded}`],
    ["deterministic requests run alone first (errors / bad)", `${report.baseline.sent} (${report.baseline.errors} / ${report.baseline.problems})`],
    ["unseeded requests replayed with their seed (errors / mismatches)", `${report.replay.sent} (${report.replay.errors} / ${report.replay.mismatches})`],
    ["1 stream", `${rate(report.single.tokensPerSecond)}  (rounds: ${report.single.rounds.map((r) => r.toFixed(0)).join(", ")})`],
    [`${report.batched.streams} concurrent streams`, `${rate(report.batched.tokensPerSecond)}  (rounds: ${report.batched.rounds.map((r) => r.toFixed(0)).join(", ")})`],
    ["batching speedup", `${(report.batched.tokensPerSecond / report.single.tokensPerSecond).toFixed(2)}×`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
  lines.push("", "  targets:");
  for (const target of targetsOf(report)) lines.push(`  ${target.met ? "✔ met    " : "✘ NOT met"}  ${target.name} (${target.detail})`);
  return lines.join("\n");
}
