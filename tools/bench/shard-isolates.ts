// CLI: npm run bench:shards -- <sharded-model-dir> [--chunk 256] [--shard <i>]
//      npm run bench:shards -- <sharded-model-dir> --front [--one-per-run] [--watch front,0,5] [--var NAME:VALUE]   (through the real front,
//      every isolate: tools/bench/sharded-isolates.ts, issue 14's phases)
// Each shard isolate's memory as the platform counts it (JS heap + ArrayBuffers + WASM; see
// tools/lib/isolate-memory.ts) through the phases the shard plan provisions for (issue 14): load,
// 8 rows × 128 tokens generated at once, one 1,024-token context (prompt prefilled in steps of
// --chunk positions), and last a 1,024-token prompt prefilled in one step (what chunking saves).
// The shards run in one `wrangler dev` with tools/sharded/caller standing in for the front (it makes
// the hidden states and pipes them through the shards over Durable Object RPC); each shard script
// is its own isolate, reached through workerd's own inspector (tools/lib/workerd-inspector.ts).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ShardRow } from "../../src/engine/shard-protocol.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import { IsolateMemory, mib, type PhaseMemory } from "../lib/isolate-memory.js";
import { inspectorUrlOf, workerInspectorUrls } from "../lib/workerd-inspector.js";
import { writeShardedConfigs } from "../sharded/config.js";
import { uploadModel } from "../upload.js";
import { benchShardedIsolates, ISSUE14_SHARDED } from "./sharded-isolates.js";
import { shardedIsolatesTable } from "./sharded-isolates-report.js";
import { startDev } from "./sharded.js";

const ROOT = resolve(import.meta.dirname, "../..");
type Step = { rows: ShardRow[]; seq: number; release?: string[] };

/** The phases: each a list of pipeline steps (rows named per phase, released at its end). */
function workload(chunk: number, positions: number): Array<[name: string, steps: Step[]]> {
  const batch: Step[] = [];
  const ids = Array.from({ length: 8 }, (_, r) => `batch-${r}`);
  ids.forEach((id) => batch.push({ rows: [{ id, past: 0 }], seq: 16 })); // newcomers prefill alone
  for (let t = 0; t < 128; t++) batch.push({ rows: ids.map((id) => ({ id, past: 16 + t })), seq: 1 });
  const context: Step[] = [];
  const prompt = positions - 16;
  for (let at = 0; at < prompt; at += chunk) context.push({ rows: [{ id: "ctx", past: at }], seq: Math.min(chunk, prompt - at), release: at === 0 ? ids : [] });
  for (let t = 0; t < 16; t++) context.push({ rows: [{ id: "ctx", past: prompt + t }], seq: 1 });
  const whole: Step[] = [{ rows: [{ id: "whole", past: 0 }], seq: positions, release: ["ctx"] }];
  return [[`8 rows × 128 tokens`, batch], [`1 × ${positions} positions, prefill in ${chunk}s`, context], [`1 × ${positions}-token prefill in one step`, whole]];
}

interface ShardFigures {
  idle: number;
  phases: Array<[name: string, memory: PhaseMemory, ms: number[]]>;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { chunk: { type: "string", default: "256" }, shard: { type: "string" }, front: { type: "boolean", default: false }, "one-per-run": { type: "boolean", default: false }, var: { type: "string", multiple: true, default: [] }, watch: { type: "string" } } });
  if (positionals.length !== 1) throw new Error("usage: npm run bench:shards -- <sharded-model-dir> [--chunk 256] [--shard <i>] | --front [--one-per-run] [--watch front,0,5] [--var NAME:VALUE]");
  const modelDir = resolve(positionals[0]);
  if (values.front) {
    // Through the real front instead: every isolate at once, issue 14's phases (sharded-isolates.ts).
    const result = await benchShardedIsolates(modelDir, ISSUE14_SHARDED, (line) => console.error(`[bench:shards] ${line}`), { onePerRun: values["one-per-run"], watch: values.watch?.split(",").map((w) => (w === "front" ? w : Number(w))), vars: Object.fromEntries(values.var.map((v) => [v.slice(0, v.indexOf(":")), v.slice(v.indexOf(":") + 1)])) });
    console.log(["", ...shardedIsolatesTable(result)].join("\n"));
    return;
  }
  const front = JSON.parse(await readFile(join(modelDir, "manifest.json"), "utf8")) as ModelManifest;
  if (!front.shards) throw new Error(`${modelDir} is not a sharded model`);
  const work = await mkdtemp(join(tmpdir(), "edge-gpt2-bench-shards-"));
  try {
    const persistTo = join(work, "state");
    const prefix = await uploadModel({ modelDir, prefix: "bench/sharded", persistTo, log: () => {} });
    const configs = await writeShardedConfigs({ shards: front.shards.length, prefix, outDir: join(work, "configs"), frontConfig: join(ROOT, "tools/sharded/caller/wrangler.toml") });
    // workerd's inspector serves one connection at a time (a second closes the first): one fresh
    // wrangler dev per shard measured, the whole workload each time.
    const measured = values.shard === undefined ? front.shards.map((_, i) => i) : [Number(values.shard)];
    const figures = new Map<number, ShardFigures>();
    for (const index of measured) figures.set(index, await measureShard(index, front, configs, persistTo, Number(values.chunk)));
    console.log(`\nper shard isolate (JS heap + ArrayBuffers + WASM), ${front.name}, ${front.shards.length} shards:`);
    for (const [index, { idle, phases }] of figures) {
      const s = front.shards[index];
      console.log(`shard ${index} blocks [${s.layers}] files ${mib(s.bytes)}; idle ${mib(idle)}`);
      for (const [name, { peak, after }] of phases) {
        console.log(`  ${name.padEnd(40)} peak ${mib(peak.total)} (wasm ${mib(peak.wasm)}, buffers ${mib(peak.backingStores)}, heap ${mib(peak.heapUsed)}); after GC ${mib(after.total)}`);
      }
    }
    for (const [index, { phases }] of figures) {
      for (const [name, , ms] of phases.slice(1)) {
        const sorted = [...ms].sort((a, b) => a - b);
        console.log(`(run for shard ${index}) ${name}: ${ms.length} pipeline steps through ${front.shards.length} shards, median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function measureShard(index: number, front: ModelManifest, configs: string[], persistTo: string, chunk: number): Promise<ShardFigures> {
  // One wrangler dev per shard measured, started and closed as every bench's is (sharded.ts startDev).
  const dev = await startDev(configs.flatMap((c) => ["-c", c]), persistTo, () => undefined);
  const call = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${dev.origin}${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json;
  };
  try {
    const script = `edge-gpt2-shard-caller-shard-${index}`;
    const url = inspectorUrlOf(await workerInspectorUrls(dev.pid), script);
    // release([]) enters the shard's isolate without loading it (status() would load the shard).
    // wrangler's own inspector proxy may connect to workerd's inspector just after start, which
    // closes ours: a few attempts.
    let monitor: IsolateMemory | null = null;
    let idle = 0;
    for (let attempt = 1; !monitor; attempt++) {
      try {
        monitor = await IsolateMemory.connectTo(url, () => call(`/release/${index}`, { ids: [] }), { pokeWhileWaiting: true });
        idle = (await monitor.afterGc()).total;
      } catch (error) {
        monitor?.close();
        monitor = null;
        if (attempt === 5) throw error;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    const phases: ShardFigures["phases"] = [];
    const load = await monitor.measure(() => Promise.all(front.shards!.map((_, i) => call(`/status/${i}`))));
    phases.push(["load", load.memory, load.result.map((s) => Number(s.loadMs))]);
    console.log(`shard ${index}: load peak ${mib(load.memory.peak.total)}`);
    for (const [name, steps] of workload(chunk, Math.min(1024, front.architecture.n_positions))) {
      const { result, memory } = await monitor.measure(() => call("/run", { width: front.architecture.n_embd, steps }));
      phases.push([name, memory, result.ms as number[]]);
      console.log(`shard ${index}: ${name} peak ${mib(memory.peak.total)}`);
    }
    monitor.close();
    return { idle, phases };
  } finally {
    dev.close();
    await new Promise((r) => setTimeout(r, 2000));
  }
}

main().then(
  () => process.exit(0), // wrangler's dev server keeps handles open
  (e: unknown) => {
    console.error(`bench:shards failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
