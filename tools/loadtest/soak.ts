// Soak mode of the load test (issue 12): the same mix of hostile bodies (test/worker/fuzz-bodies.ts)
// and generations (workload.ts) sent round after round to one `wrangler dev`, printing after each
// round the isolate's total as the platform counts it (JS heap + ArrayBuffers + WASM, after a full
// GC, through the inspector: tools/lib/isolate-memory.ts) and workerd's resident set size. Memory
// that grows with traffic shows as a total that keeps rising; a healthy isolate levels off.
import { readdir, readFile } from "node:fs/promises";
import { FUZZ_PATHS, fuzzCases, fuzzRequestInit, type FuzzCase, type Route } from "../../test/worker/fuzz-bodies";
import { IsolateMemory, mib, type IsolateSample } from "../lib/isolate-memory";
import { sendGenerate } from "./client";
import type { RunningServer } from "./server";
import { buildWorkload } from "./workload";

export interface SoakOptions {
  rounds: number;
  /** Hostile bodies per route (/v1/generate and /v1/completions) per round. */
  fuzzPerRoute: number;
  generations: number;
  clients: number;
  seed: number;
  maxNewTokens: number;
  longPromptTokens: number;
  timeoutMs: number;
}

export interface SoakRound {
  round: number;
  seconds: number;
  statuses: Record<string, number>;
  isolate: IsolateSample;
  rss: number;
}


async function sendFuzz(baseUrl: string, route: Route, fuzz: FuzzCase, timeoutMs: number): Promise<string> {
  try {
    const response = await fetch(`${baseUrl}${FUZZ_PATHS[route]}`, { ...fuzzRequestInit(fuzz), signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return String(response.status);
  } catch (error) {
    return error instanceof Error ? error.name : "error";
  }
}

/** workerd's resident set size: the largest workerd in wrangler dev's process group. */
async function workerdRss(processGroup: number): Promise<number> {
  let largest = NaN;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (!stat.includes("(workerd)")) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state, ppid, pgrp, …
    if (Number(fields[2]) !== processGroup) continue;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${entry}/status`, "utf8").catch(() => ""))?.[1]) * 1024;
    if (!(rss <= largest)) largest = rss;
  }
  return largest;
}

/** One round's tasks: every hostile body and every generation, shuffled together by the seed. */
function roundTasks(server: RunningServer, options: SoakOptions, round: number): (() => Promise<string>)[] {
  const seed = options.seed + round;
  const maxBody = server.health.limits.max_body_bytes ?? 131_072;
  const tasks: (() => Promise<string>)[] = [];
  for (const route of ["generate", "completions"] as const) {
    for (const fuzz of fuzzCases(route, seed, options.fuzzPerRoute, server.health.model.name, maxBody)) {
      tasks.push(() => sendFuzz(server.url, route, fuzz, options.timeoutMs));
    }
  }
  const workload = buildWorkload({ count: options.generations, seed, maxNewTokens: options.maxNewTokens, longPromptTokens: options.longPromptTokens });
  for (const request of workload) {
    tasks.push(async () => {
      const observed = await sendGenerate(server.url, request.body, options.timeoutMs);
      return observed.error && observed.status === 200 ? "200 (bad body)" : String(observed.status);
    });
  }
  // Interleave deterministically: generations and hostile bodies in flight together.
  return tasks.map((task, i) => ({ task, key: (i * 2654435761 + seed) % 4294967296 })).sort((a, b) => a.key - b.key).map((t) => t.task);
}

async function runPool(tasks: (() => Promise<string>)[], clients: number): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  let next = 0;
  const client = async () => {
    while (next < tasks.length) {
      const status = await tasks[next++]();
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return statuses;
}

export async function runSoak(server: RunningServer, options: SoakOptions, print: (line: string) => void): Promise<SoakRound[]> {
  const isolate = await IsolateMemory.connect(server.inspectorPort, () => fetch(`${server.url}/health`).then((r) => r.text()));
  try {
    const start = await isolate.afterGc();
    print(`before round 1: isolate ${mib(start.total)} (JS heap ${mib(start.heapUsed)}, ArrayBuffers ${mib(start.backingStores)}, WASM ${mib(start.wasm)}); workerd RSS ${mib(await workerdRss(server.pid))}`);
    print("| round | s | answers | isolate total after GC | JS heap | ArrayBuffers | WASM | Δ total | workerd RSS | Δ RSS |");
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    const rounds: SoakRound[] = [];
    let previous = { total: start.total, rss: await workerdRss(server.pid) };
    for (let round = 1; round <= options.rounds; round++) {
      const started = performance.now();
      const statuses = await runPool(roundTasks(server, options, round), options.clients);
      const sample = await isolate.afterGc();
      const rss = await workerdRss(server.pid);
      const result = { round, seconds: (performance.now() - started) / 1000, statuses, isolate: sample, rss };
      rounds.push(result);
      const answers = Object.entries(statuses).sort().map(([s, n]) => `${s}×${n}`).join(" ");
      print(
        `| ${round} | ${result.seconds.toFixed(0)} | ${answers} | ${mib(sample.total)} | ${mib(sample.heapUsed)} | ${mib(sample.backingStores)} | ${mib(sample.wasm)} | ` +
          `${mib(sample.total - previous.total)} | ${mib(rss)} | ${mib(rss - previous.rss)} |`,
      );
      previous = { total: sample.total, rss };
    }
    return rounds;
  } finally {
    isolate.close();
  }
}

/**
 * Levelled off: over the second half of the rounds the isolate total grew by at most 1 MiB, and
 * workerd's RSS grew by at most a quarter of what it grew over the first half (the first rounds
 * warm allocators up; a leak keeps the same pace).
 */
export function levelsOff(rounds: SoakRound[]): { isolate: boolean; rss: boolean; text: string } {
  if (rounds.length < 3) return { isolate: false, rss: false, text: "needs ≥ 3 rounds to judge" };
  const half = Math.floor(rounds.length / 2);
  const isolateGrowth = rounds[rounds.length - 1].isolate.total - rounds[half - 1].isolate.total;
  const rssFirst = rounds[half - 1].rss - rounds[0].rss;
  const rssSecond = rounds[rounds.length - 1].rss - rounds[half - 1].rss;
  const isolate = isolateGrowth <= 2 ** 20;
  const rss = rssSecond <= Math.max(rssFirst / 4, 8 * 2 ** 20);
  return {
    isolate,
    rss,
    text: `isolate total ${isolate ? "levels off" : "keeps growing"} (${mib(isolateGrowth)} over rounds ${half}→${rounds.length}); ` +
      `workerd RSS ${rss ? "levels off" : "keeps growing"} (+${mib(rssFirst)} over rounds 1→${half}, +${mib(rssSecond)} over ${half}→${rounds.length})`,
  };
}
