// Sharded vs unsharded serving (issue 14), in one run: the same int8 model served whole by one
// front Worker, and split into shards (Durable Objects in Worker scripts of their own) behind the
// same front code, both in `wrangler dev` (workerd, where an isolate has no memory limit), both
// reading the model from the same local R2. Requests alternate between the two, so both see the
// same machine load; figures are medians over the repetitions with their spread.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { benchDevEnv } from "../lib/bench-dev-env.js";
import { freePort } from "../lib/free-port.js";
import { writeShardedConfigs } from "../sharded/config.js";
import { uploadModel } from "../upload.js";
import { BENCH_DIR } from "./models.js";
import { FrontIsolate, frontMemoryLines, type FrontMemory } from "./sharded-front-memory.js";

const ROOT = resolve(import.meta.dirname, "../..");

export interface ShardedPlan {
  shards: number;
  /** Repetitions per variant (alternating), after one warm-up request each. */
  repetitions: number;
  maxNewTokens: number;
  /** Concurrent requests for the batched figure. */
  batchRequests: number;
  /** Positions of the front's full-context phase (the model's window at most). */
  window: number;
}

export const FULL_SHARDED: ShardedPlan = { shards: 2, repetitions: 7, maxNewTokens: 64, batchRequests: 4, window: 1024 };
export const QUICK_SHARDED: ShardedPlan = { shards: 2, repetitions: 3, maxNewTokens: 16, batchRequests: 2, window: 256 };

/** Median and range of one figure over the repetitions. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface VariantResult {
  /** Decode tokens/s of one request alone (the server's own decode timing). */
  decodeTps: Spread;
  /** Request sent → first token event, one request alone, ms. */
  ttftMs: Spread;
  /** Tokens/s over `batchRequests` concurrent requests (completion tokens / wall time). */
  batchTps: Spread;
}

export interface ShardedResult {
  model: string;
  shards: number;
  unsharded: VariantResult;
  sharded: VariantResult;
  /** Sharded ÷ unsharded, repetition by repetition (both measured back to back): median and range. */
  ratios: VariantResult;
  /** The sharded model's front isolate through load, 8 × 128 at once and a full context. */
  front: FrontMemory;
}

const PROMPT = "The old lighthouse keeper climbed the stairs each evening, counting the steps and listening to the sea below as the lamp";

/** `folder` (an unsharded int8 bench model) against `shardedFolder`, its conversion into plan.shards shards. */
export async function benchSharded(folder: string, shardedFolder: string, plan: ShardedPlan, log: (line: string) => void): Promise<ShardedResult> {
  const plainDir = join(BENCH_DIR, folder);
  const shardedDir = join(BENCH_DIR, shardedFolder);
  const persistTo = join(BENCH_DIR, "sharded-r2");
  log("uploading both to local R2…");
  const plainPrefix = await uploadModel({ modelDir: plainDir, prefix: `bench-${folder}`, persistTo, log: () => undefined });
  const shardedPrefix = await uploadModel({ modelDir: shardedDir, prefix: `bench-${folder}-sharded`, persistTo, log: () => undefined });
  // No byte budget: workerd gives an isolate no memory limit, and the unsharded model would not fit
  // 128 MB. No prefix cache: the sharded front has none, and a repeated prompt would skip the
  // unsharded prefill altogether.
  // A long time budget: the front's full-context phase prefills ~900 tokens on shared cores.
  // (In every sharded config: `wrangler dev --var` reaches only the first, and the front admits no
  // more than the shards' own budgets.)
  const settings = { ISOLATE_MEMORY_BYTES: "0", RESPONSE_CACHE_BYTES: "0", PREFIX_CACHE_BYTES: "0", GENERATION_TIMEOUT_MS: "300000" };
  const configs = await writeShardedConfigs({ shards: plan.shards, prefix: shardedPrefix, outDir: join(BENCH_DIR, "sharded-configs"), vars: settings });
  const vars = Object.entries(settings).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const plain = await startDev(["-c", join(ROOT, "wrangler.toml"), "--var", `MODEL:r2:${plainPrefix}`, ...vars], persistTo, log);
  const sharded = await startDev(configs.flatMap((c) => ["-c", c]), persistTo, log);
  try {
    const variants = { unsharded: plain.origin, sharded: sharded.origin };
    const samples = { unsharded: emptySamples(), sharded: emptySamples() };
    await generate(plain.origin, plan.maxNewTokens); // loads the model
    // The front's isolate from before it loads anything (the kernel; the shards load in theirs).
    const front = await FrontIsolate.connect(sharded.origin, sharded.pid);
    const frontLoad = await front.load(() => generate(sharded.origin, plan.maxNewTokens));
    // Per repetition: one request alone on each side, then the concurrent requests on each side
    // (the batches leave work behind — a GC, freed caches — that slowed whichever single request
    // came next by up to a third when they were interleaved), the order alternating.
    const names = Object.keys(variants) as (keyof typeof variants)[];
    for (let r = 0; r < plan.repetitions; r++) {
      const order = r % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const one = await generate(variants[name], plan.maxNewTokens);
        samples[name].decodeTps.push(one.decodeTps);
        samples[name].ttftMs.push(one.ttftMs);
      }
      for (const name of order) {
        const started = Date.now();
        const batch = await Promise.all(Array.from({ length: plan.batchRequests }, () => generate(variants[name], plan.maxNewTokens)));
        samples[name].batchTps.push((batch.reduce((sum, b) => sum + b.tokens, 0) / (Date.now() - started)) * 1000);
      }
      log(`repetition ${r + 1}/${plan.repetitions}: decode ${samples.unsharded.decodeTps.at(-1)!.toFixed(1)} vs ${samples.sharded.decodeTps.at(-1)!.toFixed(1)} tokens/s (unsharded vs sharded)`);
    }
    log("the sharded front's isolate: 8 × 128 tokens at once, then a full context…");
    const window = Math.min(1024, plan.window);
    const frontMemory = await front.workloads(frontLoad, (body) => post(sharded.origin, body), window);
    const ratios = (key: keyof ReturnType<typeof emptySamples>) => spread(samples.sharded[key].map((v, i) => v / samples.unsharded[key][i]));
    return {
      model: folder,
      shards: plan.shards,
      unsharded: summarize(samples.unsharded),
      sharded: summarize(samples.sharded),
      ratios: { decodeTps: ratios("decodeTps"), ttftMs: ratios("ttftMs"), batchTps: ratios("batchTps") },
      front: frontMemory,
    };
  } finally {
    plain.close();
    sharded.close();
  }
}

const emptySamples = () => ({ decodeTps: [] as number[], ttftMs: [] as number[], batchTps: [] as number[] });
const summarize = (s: ReturnType<typeof emptySamples>): VariantResult => ({ decodeTps: spread(s.decodeTps), ttftMs: spread(s.ttftMs), batchTps: spread(s.batchTps) });

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
}

/** One streamed greedy request: time to its first token, the server's decode tokens/s, tokens made. */
async function generate(origin: string, maxNewTokens: number): Promise<{ ttftMs: number; decodeTps: number; tokens: number }> {
  const started = Date.now();
  const response = await fetch(`${origin}/v1/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: PROMPT, max_new_tokens: maxNewTokens, stream: true, cache: false }),
  });
  if (!response.ok || !response.body) throw new Error(`${origin}: HTTP ${response.status}: ${(await response.text()).slice(0, 500)}`);
  let text = "";
  let ttftMs = NaN;
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    text += decoder.decode(chunk, { stream: true });
    if (Number.isNaN(ttftMs) && text.includes("event: token")) ttftMs = Date.now() - started;
  }
  const done = /event: done\ndata: (.*)\n/.exec(text);
  if (!done) throw new Error(`${origin}: the stream ended without a done event: ${text.slice(-500)}`);
  const body = JSON.parse(done[1]) as { usage: { completion_tokens: number }; timings: { decode_tokens_per_second: number | null } };
  return { ttftMs, decodeTps: body.timings.decode_tokens_per_second ?? NaN, tokens: body.usage.completion_tokens };
}

/** A non-streaming /v1/generate; fails on any status but 200. */
async function post(origin: string, body: Record<string, unknown>): Promise<unknown> {
  const response = await fetch(`${origin}/v1/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, cache: false }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${origin}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** `wrangler dev` with these configs on a free port, until it says it is ready. */
export async function startDev(args: string[], persistTo: string, log: (line: string) => void): Promise<{ origin: string; inspectorPort: number; pid: number; close(): void }> {
  const port = await freePort();
  const inspector = await freePort();
  const child: ChildProcess = spawn(join(ROOT, "node_modules/.bin/wrangler"), ["dev", ...args, "--port", String(port), "--inspector-port", String(inspector), "--persist-to", persistTo], {
    cwd: ROOT,
    detached: true, // its own process group: closing it ends workerd too
    stdio: ["ignore", "pipe", "pipe"],
    env: benchDevEnv(await mkdtemp(join(tmpdir(), "edge-gpt2-registry-"))),
  });
  const close = () => {
    if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  };
  let output = "";
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`wrangler dev did not start in 180 s:\n${output.slice(-2000)}`)), 180_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready on http/.test(output)) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout!.on("data", seen);
    child.stderr!.on("data", seen);
    child.on("exit", (code) => fail(new Error(`wrangler dev exited with ${code}:\n${output.slice(-2000)}`)));
  }).catch((error: unknown) => {
    close();
    throw error;
  });
  log(`wrangler dev ready on port ${port}`);
  return { origin: `http://127.0.0.1:${port}`, inspectorPort: inspector, pid: child.pid!, close };
}

/** The table of the run (ratios are sharded / unsharded, from the same run). */
export function shardedTable(result: ShardedResult): string[] {
  const f = (s: Spread, digits = 1) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  const { unsharded: u, sharded: s, ratios: q } = result;
  const ratio = (r: Spread) => `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
  return [
    `Sharded (${result.shards} Durable Object shards) vs unsharded, ${result.model} int8, wrangler dev without its local tracing collector — median (min–max); ratios repetition by repetition`,
    "| | unsharded | sharded | sharded ÷ unsharded |",
    "|---|---|---|---|",
    `| decode tokens/s, one request | ${f(u.decodeTps)} | ${f(s.decodeTps)} | ${ratio(q.decodeTps)} |`,
    `| TTFT ms, one request | ${f(u.ttftMs, 0)} | ${f(s.ttftMs, 0)} | ${ratio(q.ttftMs)} |`,
    `| tokens/s, concurrent requests | ${f(u.batchTps)} | ${f(s.batchTps)} | ${ratio(q.batchTps)} |`,
    "",
    ...frontMemoryLines(result.front),
    "(each shard's isolate: `npm run bench:shards -- <sharded-model-dir>`)",
  ];
}
