// Every isolate of a sharded deployment (the front and each shard script), measured as the platform
// counts it (JS heap + ArrayBuffers + WASM, tools/lib/isolate-memory.ts), through REAL requests to
// the front: the project's front Worker with the model sharded over Durable Objects, the deployed
// memory config (ISOLATE_MEMORY_BYTES' default and its KV byte budget), the model in local R2, all
// in one `wrangler dev`. Phases: load, one long generation, one full context, rows × tokens at once,
// rounds of mixed requests (mixed-bodies.ts) each followed by a full GC. The front is reached
// through wrangler's inspector proxy, each shard through workerd's own inspector
// (tools/lib/workerd-inspector.ts); workerd's inspector keeps one connection per isolate, so every
// isolate is watched at once in one run unless `onePerRun` repeats the (deterministic) workload.
import { writeFile, readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { IsolateMemory, type IsolateSample, type PhaseMemory } from "../lib/isolate-memory.js";
import { inspectorUrlOf, workerInspectorUrls } from "../lib/workerd-inspector.js";
import { shardScript, writeShardedConfigs } from "../sharded/config.js";
import { uploadModel } from "../upload.js";
import { mixedBodies, sendMixed } from "./mixed-bodies.js";
import { BENCH_DIR } from "./models.js";
import { startDev } from "./sharded.js";
import type { ModelManifest } from "../../src/model/manifest.js";

const ROOT = resolve(import.meta.dirname, "../..");

export interface ShardedIsolatesPlan {
  /** One generation of this many new tokens after an 8-token prompt (0: none). */
  single: number;
  /** One context of this many positions: a prompt of all but 128 of them, then 128 generated (0: none). */
  context: number;
  /** rows generations of rowTokens new tokens each, sent at once. */
  rows: number;
  rowTokens: number;
  /** Rounds of mixedRequests mixed requests, mixedConcurrency at a time (0 rounds: none). */
  mixedRequests: number;
  mixedConcurrency: number;
  mixedRounds: number;
}

/** Issue 12's phases (distilgpt2's targets). */
export const ISSUE12_SHARDED: ShardedIsolatesPlan = { single: 256, context: 0, rows: 8, rowTokens: 128, mixedRequests: 100, mixedConcurrency: 4, mixedRounds: 3 };
/** Issue 14's phases (GPT-2-124M, gpt2-medium's shape). */
export const ISSUE14_SHARDED: ShardedIsolatesPlan = { single: 0, context: 1024, rows: 8, rowTokens: 128, mixedRequests: 0, mixedConcurrency: 4, mixedRounds: 0 };
export const QUICK_SHARDED_ISOLATES: ShardedIsolatesPlan = { single: 32, context: 0, rows: 4, rowTokens: 16, mixedRequests: 20, mixedConcurrency: 4, mixedRounds: 2 };

export interface RunOptions {
  /** One isolate watched per run, the workload repeated (default: every isolate at once). */
  onePerRun?: boolean;
  /** The isolates to watch (default: the front and every shard), e.g. one shard of each shape. */
  watch?: IsolateName[];
  /** Vars over the deployed config, e.g. ISOLATE_MEMORY_BYTES (named in the table). */
  vars?: Record<string, string>;
}

/** "front" or a shard's index. */
export type IsolateName = "front" | number;

export interface ShardedIsolatesResult {
  model: string;
  /** Each shard's blocks [from, to). */
  layers: Array<[number, number]>;
  /** Phase names, in order. */
  phases: string[];
  /** Per isolate: idle (after GC, before load) and each phase's figures (a failed phase is missing). */
  isolates: Array<{ name: IsolateName; idle: IsolateSample; phases: Array<PhaseMemory | undefined> }>;
  /** Vars set over the deployed config (besides the time budget). */
  vars: Record<string, string>;
  /** Runs of the workload: 1 when every isolate was watched at once. */
  runs: number;
  /** The front's KV byte budget after load (/v1/info `memory`: the shard that admits the fewest tokens). */
  budget: { kv_budget_bytes: number; kv_bytes_per_token: number; tokens_in_flight: number } | null;
  /** Most rows any shard held at once during the rows × tokens phase (polled through /v1/info). */
  rowsTogether: number;
  /** Statuses of the mixed requests, per round (the first run's). */
  mixedStatuses: Array<Record<number, number>>;
  failures: string[];
}

/** Which sharded deployment `npm run bench` measures per bench shape, through which phases. */
export function shardedIsolatesFor(shape: string): { shards: number; plan: ShardedIsolatesPlan } | null {
  if (shape === "distilgpt2") return { shards: 2, plan: ISSUE12_SHARDED }; // the deployment that serves 1 × 256
  if (shape === "gpt2") return { shards: 4, plan: ISSUE14_SHARDED }; // what --shard-memory 120 plans
  if (shape === "tiny") return { shards: 2, plan: QUICK_SHARDED_ISOLATES }; // --quick
  return null;
}

/** The sharded model `folder` (a path, or a folder under BENCH_DIR): every isolate through `plan`'s phases. */
export async function benchShardedIsolates(folder: string, plan: ShardedIsolatesPlan, log: (line: string) => void, options: RunOptions = {}): Promise<ShardedIsolatesResult> {
  const { onePerRun = false, vars = {} } = options;
  const modelDir = resolve(BENCH_DIR, folder);
  const manifest = JSON.parse(await readFile(join(modelDir, "manifest.json"), "utf8")) as ModelManifest;
  if (!manifest.shards) throw new Error(`${modelDir} is not a sharded model`);
  const persistTo = join(BENCH_DIR, "sharded-r2");
  const prefix = await uploadModel({ modelDir, prefix: `bench-${basename(modelDir)}`, persistTo, log: () => undefined });
  // The vars go into every config: the shards count keys/values against ISOLATE_MEMORY_BYTES too.
  const configs = await writeShardedConfigs({ shards: manifest.shards.length, prefix, outDir: join(BENCH_DIR, "sharded-isolates-configs", basename(modelDir)), vars });
  // The real front, plus the one route that lets the inspector into a shard before it loads.
  const front = JSON.parse(await readFile(configs[0], "utf8")) as Record<string, unknown>;
  // No rate limit: every request of the bench comes from one address (wrangler dev sets
  // CF-Connecting-IP), where a deployment's traffic comes from many.
  delete front.ratelimits;
  await writeFile(configs[0], JSON.stringify({ ...front, main: join(ROOT, "tools/bench/sharded-front/index.ts") }, null, 2));
  const names: IsolateName[] = options.watch ?? ["front", ...manifest.shards.map((_, i) => i)];
  const phases = phaseList(plan, manifest.architecture.n_positions);
  const result: ShardedIsolatesResult = { model: basename(modelDir), layers: manifest.shards.map((s) => s.layers as [number, number]), phases: phases.map(([name]) => name), isolates: [], vars, runs: 0, budget: null, rowsTogether: 0, mixedStatuses: [], failures: [] };
  for (const group of onePerRun ? names.map((n) => [n]) : [names]) {
    result.runs++;
    log(`${result.model}: run ${result.runs}, watching ${group.map(label).join(", ")}…`);
    await oneRun(configs, persistTo, group, phases, result, log);
  }
  return result;
}

const label = (name: IsolateName) => (name === "front" ? "the front" : `shard ${name}`);

type Phase = [name: string, run: (origin: string, result: ShardedIsolatesResult) => Promise<void>];

function phaseList(plan: ShardedIsolatesPlan, window: number): Phase[] {
  const phases: Phase[] = [["load", async (origin, result) => {
    await generate(origin, { prompt: "Hello", max_new_tokens: 1 });
    result.budget = ((await (await fetch(`${origin}/v1/info`)).json()) as { memory: ShardedIsolatesResult["budget"] }).memory;
  }]];
  if (plan.single > 0) phases.push([`1 × ${plan.single} tokens`, async (origin) => void (await generate(origin, { prompt: "The old lighthouse keeper climbed the stairs", max_new_tokens: plan.single }))]);
  const context = Math.min(plan.context, window);
  if (context > 0) {
    // "The" then " the" repeated: one GPT-2 token each, so the prompt is exactly context - 128 tokens.
    phases.push([`one ${context}-position context`, async (origin) => void (await generate(origin, { prompt: `The${" the".repeat(context - 129)}`, max_new_tokens: 128 }))]);
  }
  phases.push([`${plan.rows} × ${plan.rowTokens} tokens at once`, async (origin, result) => {
    let running = true;
    // Rows held by the shards while the requests run: that they really ran together.
    const poll = (async () => {
      while (running) {
        const info = await fetch(`${origin}/v1/info`).then((r) => r.json() as Promise<{ shards?: { list: { rows: number }[] } }>, () => null);
        for (const s of info?.shards?.list ?? []) result.rowsTogether = Math.max(result.rowsTogether, s.rows);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    try {
      await Promise.all(Array.from({ length: plan.rows }, (_, i) => generate(origin, { prompt: `Row ${i}: the harbour at dawn`, max_new_tokens: plan.rowTokens })));
    } finally {
      running = false;
      await poll;
    }
  }]);
  for (let round = 1; round <= plan.mixedRounds; round++) {
    phases.push([round === 1 ? `${plan.mixedRequests} mixed requests` : `mixed, round ${round}`, async (origin, result) => {
      const statuses = await sendMixed(mixedBodies(plan.mixedRequests), plan.mixedConcurrency, async (body) => {
        const response = await fetch(`${origin}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body });
        await response.arrayBuffer();
        return response.status;
      });
      if (result.mixedStatuses.length < plan.mixedRounds) result.mixedStatuses.push(statuses);
    }]);
  }
  return phases;
}

/** One greedy generation of exactly max_new_tokens tokens (min_new_tokens: no early stop), uncached. */
async function generate(origin: string, body: { prompt: string; max_new_tokens: number }): Promise<void> {
  const response = await fetch(`${origin}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, min_new_tokens: body.max_new_tokens, cache: false }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 400)}`);
  const tokens = (JSON.parse(text) as { usage: { completion_tokens: number } }).usage.completion_tokens;
  if (tokens !== body.max_new_tokens) throw new Error(`asked for ${body.max_new_tokens} new tokens, got ${tokens}`);
}

async function oneRun(configs: string[], persistTo: string, watched: IsolateName[], phases: Phase[], result: ShardedIsolatesResult, log: (line: string) => void): Promise<void> {
  // Deployed memory config; only the time budget is raised (a full context through many shards
  // on 2 shared cores takes longer than the deployed 25 s).
  const overrides = ["--var", "GENERATION_TIMEOUT_MS:600000"];
  const dev = await startDev([...configs.flatMap((c) => ["-c", c]), ...overrides], persistTo, log);
  const monitors: Array<[IsolateName, IsolateMemory]> = [];
  try {
    const poke = (path: string) => () => fetch(`${dev.origin}${path}`).then((r) => r.arrayBuffer());
    const urls = await workerInspectorUrls();
    for (const name of watched) {
      // The front through workerd's own inspector too: wrangler's proxy attaches to whichever
      // Worker of a multi-Worker dev reloaded last, not necessarily the front.
      const [script, path] = name === "front" ? ["edge-gpt2", "/__bench/ping"] : [shardScript("edge-gpt2", name), `/__bench/enter-shard/${name}`];
      monitors.push([name, await IsolateMemory.connectTo(inspectorUrlOf(urls, script), poke(path), { pokeWhileWaiting: true })]);
    }
    const figures = await Promise.all(monitors.map(async ([name, m]) => ({ name, idle: await m.afterGc(), phases: [] as Array<PhaseMemory | undefined> })));
    for (const [name, run] of phases) {
      try {
        // Every monitor samples while the one workload runs (nested: each measure wraps the next).
        const memories: PhaseMemory[] = [];
        const measured = monitors.reduceRight<() => Promise<void>>((inner, [, m]) => async () => {
          const { memory } = await m.measure(inner, 25 * monitors.length);
          memories.unshift(memory);
        }, () => run(dev.origin, result));
        await measured();
        memories.forEach((m, i) => figures[i].phases.push(m));
        log(`${name}: ${monitors.map(([n], i) => `${label(n)} ${(memories[i].peak.total / 2 ** 20).toFixed(1)}`).join(", ")} MiB at peak`);
      } catch (error) {
        figures.forEach((f) => f.phases.push(undefined));
        result.failures.push(`${name} (run ${result.runs}): ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
        if (name === "load") break;
      }
    }
    result.isolates.push(...figures);
  } finally {
    for (const [, m] of monitors) m.close();
    dev.close();
    await new Promise((r) => setTimeout(r, 2000)); // workerd's ports and processes gone before the next run
  }
}
