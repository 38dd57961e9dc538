// Formats benchmark results: one markdown table for speed, one for memory, the machine description,
// and BENCHMARKS.md. Every number comes from a run; nothing here is typed by hand.
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import type { EngineResult, SpeedPlan } from "./plan.js";
import type { MemoryResult, ModelResult } from "./run.js";
import { ISOLATE_METHOD, isolateTable } from "./isolate-report.js";
import { pairedRatio } from "./interleave.js";
import { lookupResults, lookupTable } from "./lookup.js";

const MiB = 2 ** 20;
const root = resolve(import.meta.dirname, "../..");
const versionOf = (pkg: string) => (JSON.parse(readFileSync(resolve(root, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;

export function machineDescription(): string[] {
  return [
    `- CPU: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} logical cores; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Load average when the run started: ${loadavg().map((l) => l.toFixed(2)).join(" / ")} (the cores are shared; wall times include contention)`,
    `- Node ${process.version}; workerd ${versionOf("workerd")} (wrangler ${versionOf("wrangler")}); onnxruntime-web ${versionOf("onnxruntime-web")}; onnxruntime-node ${versionOf("onnxruntime-node")}`,
  ];
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const tps = (msPerToken: number) => (1000 / msPerToken).toFixed(1);
const ratio = (v: number) => `${v.toFixed(2)}×`;

const ENGINES = ["ours", "plainWorkerd", "plainNodeChecked", "plainWeb", "native"] as const;

/** A figure's spread over the interleaved repetitions, e.g. "[41.0–47.5]"; empty without runs. */
const spread = (runs: number[] | undefined, format: (v: number) => string) =>
  runs && runs.length > 1 ? ` [${format(Math.min(...runs))}–${format(Math.max(...runs))}]` : "";

/** Ours against another engine: the median of per-repetition ratios and their range. */
function versus(theirs: number[] | undefined, ours: number[] | undefined, fallback: number): string {
  if (!theirs || !ours || theirs.length !== ours.length) return ratio(fallback);
  const r = pairedRatio(theirs, ours);
  return `${ratio(r.median)} [${r.min.toFixed(2)}–${r.max.toFixed(2)}]`;
}

/**
 * One table: a row per model and metric, a column per engine (median, [min–max] over repetitions),
 * then ours against each other engine (above 1: we are faster), ratios taken repetition by repetition.
 */
export function speedTable(results: Record<string, ModelResult>, plan: SpeedPlan): string[] {
  const rows = [
    "| model | metric | ours (Worker in workerd) | plain ORT-web loop in workerd | plain ORT-web loop, Node, no trap handler | plain ORT-web loop, Node | onnxruntime-node native | ours vs plain in workerd | vs Node, no trap handler | vs Node | vs native |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [model, r] of Object.entries(results)) {
    const engines = ENGINES.map((name) => r[name]);
    const others = engines.slice(1);
    rows.push(`| ${model} | cold start: session creation, ms (ours: fetch + sha256 + session) | ${engines.map((e) => ms(e.coldStartMs)).join(" | ")} | ${others.map((e) => ratio(e.coldStartMs / r.ours.coldStartMs)).join(" | ")} |`);
    rows.push(
      `| ${model} | time to first token, ${plan.prefillTokens}-token prompt, ms (ours: whole request) | ${engines.map((e) => ms(e.ttftMs) + spread(e.runs?.ttftMs, ms)).join(" | ")} | ` +
        `${others.map((e) => versus(e.runs?.ttftMs, r.ours.runs?.ttftMs, e.ttftMs / r.ours.ttftMs)).join(" | ")} |`,
    );
    rows.push(`| ${model} | ours: prefill forward pass alone, ms | ${ms(r.ours.prefillMs)} | | | | | | | | |`);
    for (const context of plan.contexts) {
      const runs = (e: EngineResult) => e.runs?.decodeMs[context];
      rows.push(
        `| ${model} | decode tokens/s at context ${context} | ${engines.map((e) => tps(e.decodeMs[context]) + spread(runs(e)?.map((v) => 1000 / v), (v) => v.toFixed(1))).join(" | ")} | ` +
          `${others.map((e) => versus(runs(e), runs(r.ours), e.decodeMs[context] / r.ours.decodeMs[context])).join(" | ")} |`,
      );
    }
    const [first, last] = [plan.contexts[0], plan.contexts[plan.contexts.length - 1]];
    rows.push(`| ${model} | ms/token at context ${last} ÷ context ${first} | ${engines.map((e) => ratio(e.decodeMs[last] / e.decodeMs[first])).join(" | ")} | | | | |`);
  }
  return rows;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** Continuous batching in our Worker: concurrent requests' aggregate tokens/s against one request's. */
export function batchTable(results: Record<string, ModelResult>): string[] {
  const rows = [
    "| model | 1 request, tokens/s | concurrent requests, aggregate tokens/s | batching speedup |",
    "|---|---:|---:|---:|",
  ];
  for (const [model, { batch: b }] of Object.entries(results)) {
    rows.push(`| ${model} | ${b.singleTokensPerSecond.toFixed(1)} | ${b.rows} at once: ${b.batchedTokensPerSecond.toFixed(1)} | ${ratio(b.batchedTokensPerSecond / b.singleTokensPerSecond)} |`);
  }
  return rows;
}

/** Caching (issue 4): response-cache hits next to cold generations, and prefix reuse on a long prompt. */
export function cacheTable(results: Record<string, ModelResult>): string[] {
  const rows = [
    "| model | cold generation (32-token prompt, 16 new), p50 / p99 ms | response-cache hit, p50 / p99 ms | hit speedup (p50) | long prompt: cold / repeated / extended by 16, ms | prefix reuse speedup (repeated / extended) |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const [model, { cache: c }] of Object.entries(results)) {
    const p = c.prefix;
    rows.push(
      `| ${model} | ${ms(percentile(c.coldMs, 50))} / ${ms(percentile(c.coldMs, 99))} | ${ms(percentile(c.hitMs, 50))} / ${ms(percentile(c.hitMs, 99))} | ` +
        `${ratio(percentile(c.coldMs, 50) / percentile(c.hitMs, 50))} | ${p.promptTokens} tokens: ${ms(p.coldMs)} / ${ms(p.repeatedMs)} (${p.repeatedCachedTokens} reused) / ` +
        `${ms(p.extendedMs)} (${p.extendedCachedTokens} reused) | ${ratio(p.coldMs / p.repeatedMs)} / ${ratio(p.coldMs / p.extendedMs)} |`,
    );
  }
  return rows;
}

/** Targets from issue 5: distilgpt2 ≤ 120 MiB; GPT-2-124M ≤ 1.2 × int8 weight bytes + 24 MiB. */
function memoryTarget(model: string, m: MemoryResult): number | null {
  if (model === "distilgpt2") return 120 * MiB;
  if (model === "gpt2") return 1.2 * m.weightBytes + 24 * MiB;
  return null;
}

export function memoryTable(results: Record<string, ModelResult>): string[] {
  const rows = [
    "| model | int8 weights | WASM memory after load | WASM memory peak (load + generation) | workerd RSS idle → peak | isolate growth (RSS peak − idle) | target (WASM + JS heap) | WASM peak within target? | RSS growth within target? |",
    "|---|---:|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const [model, { memory: m }] of Object.entries(results)) {
    const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
    const target = memoryTarget(model, m);
    const growth = m.rssPeak - m.rssIdle;
    const verdict = (v: number) => (target === null ? "no target" : v <= target ? "yes" : "**no**");
    rows.push(
      `| ${model} (${m.generatedTokens} tokens) | ${mib(m.weightBytes)} | ${mib(m.wasmAfterLoad)} | ${mib(m.wasmPeak)} | ${mib(m.rssIdle)} → ${mib(m.rssPeak)} | ${mib(growth)} | ` +
        `${target === null ? "—" : mib(target)} | ${verdict(m.wasmPeak)} | ${verdict(growth)} |`,
    );
  }
  return rows;
}

export function benchmarksMarkdown(results: Record<string, ModelResult>, plan: SpeedPlan, startedAt: Date, seconds: number, kernelBlocks: string[]): string {
  return [
    "# Benchmarks",
    "",
    `Generated by \`npm run bench -- --write\` on ${startedAt.toISOString()} (run took ${seconds.toFixed(0)} s). Do not edit by hand.`,
    "",
    "## Machine",
    "",
    ...machineDescription(),
    "",
    "## Method",
    "",
    "Models are seeded synthetic checkpoints of the real shapes (`npm run model:synth`: distilgpt2 = 6 layers, " +
      "GPT-2-124M = 12 layers; 768 wide, 12 heads, GPT-2's vocabulary), converted to int8 by `npm run model:convert`. " +
      "All engines run the same ONNX file. **ours**: the bench Worker (tools/bench/worker.ts) in workerd through " +
      "wrangler, loading the model over HTTP through the model registry and generating through the generation service " +
      "(greedy, response and prefix caches off); its time to first token is the whole request (tokenization and the " +
      "service included). **plain in workerd** (the primary yardstick): the straightforward loop every onnxruntime user " +
      "writes — prefill, then one token per run(), feeding `present.*` back as `past_key_values.*`, argmax — inside the " +
      "same workerd with the same session options. **Node, no trap handler**: the same loop in a Node child process " +
      "started with `--disable-wasm-trap-handler`, so WebAssembly memory accesses carry explicit bounds checks as in " +
      "workerd (the fair Node yardstick). **Node**: the same loop in Node as is (the trap handler elides those checks, " +
      "which no Worker can do). **native**: the same loop on onnxruntime-node, 1 intra-op thread. Decode speed at " +
      `context N: prefill an N-token prompt, then the median of ${plan.decodeSteps} decode steps. ` +
      `Every engine runs every context and the TTFT prompt once per repetition, ${plan.reps} repetitions, the order ` +
      "rotating between them: a figure is the median over repetitions [min–max], a ratio the median of per-repetition " +
      "ratios [min–max]. Times are wall clock; workerd's clock has 1 ms resolution.",
    "",
    "Memory: ORT's WASM linear memory is read inside the isolate (it never shrinks, so its final size is its peak; " +
      "onnxruntime's emscripten heap grows in steps of at least 20%, so a figure is the first step past what was needed). " +
      "workerd offers no JS heap figure (process.memoryUsage() returns zeros there), so the isolate's total " +
      "(WASM + JS heap + native) is bounded from outside by the workerd process's peak RSS (VmHWM) minus its idle RSS.",
    "",
    "## Speed (int8)",
    "",
    ...speedTable(results, plan),
    "",
    "## The int8 kernel on the blocks' matmuls (the MLPs' adopted)",
    "",
    "GPT-2's block matmuls (the same in distilgpt2) at M rows, the LM-head kernel against onnxruntime-web's int8 " +
      "matmul (the converted graph's nodes), Node with `--disable-wasm-trap-handler` (bounds checks as in workerd), CPU " +
      "time, medians of interleaved repetitions; max abs diff 0 = bit-exact. The MLPs' two run in the kernel (README, " +
      "*The MLP kernel*). Then a projection: our measured decode step minus what the attention's two would save at M = 1 " +
      "(Node figures subtracted from workerd's step, so approximate).",
    "",
    ...kernelBlocks,
    "",
    "## Memory (int8)",
    "",
    ...memoryTable(results),
    "",
    "## Isolate memory as the platform counts it (int8)",
    "",
    ISOLATE_METHOD,
    "",
    ...isolateTable(Object.fromEntries(Object.entries(results).map(([model, r]) => [model, r.isolate]))),
    "",
    "## Batching (int8)",
    "",
    `Our Worker's continuous batching: ${plan.batchRows} greedy requests started at once (distinct 16-token prompts, ` +
      `${plan.batchTokens} new tokens each, prefills included) against one request alone; aggregate tokens/s.`,
    "",
    ...batchTable(results),
    "",
    "## Caching (int8)",
    "",
    "Whole requests through the Worker (HTTP included), response cache in the isolate's memory, prefix cache on. " +
      "Cold: a new prompt each time. Hit: the same deterministic request again. Long prompt: the first request " +
      "prefills every token; the repeat (response cache bypassed with `cache: false`) reuses the prompt's cached " +
      "keys/values; the extension reuses them and prefills only the 16 new tokens.",
    "",
    ...cacheTable(results),
    "",
    "## Prompt lookup (int8)",
    "",
    "Our Worker, greedy, one request alone: decode speed (first token to last, prefill excluded) generating " +
      `${plan.lookupTokens} tokens with \`prompt_lookup_num_tokens\` off and on, on repetitive prompts (code, a numbered ` +
      "list, JSON records) and on prose; repetitions interleaved. The models' weights are synthetic, so what they " +
      "generate — and how many drafts it accepts — is not what GPT-2 would generate: the tokens-per-step column " +
      "measures how repetitive this output was; the speed-up follows from it and from what a verifying step costs.",
    "",
    ...lookupTable(lookupResults(results)),
    "",
  ].join("\n");
}
