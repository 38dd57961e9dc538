// CLI: npm run bench [-- --quick] [-- --write] [-- --isolate-only | --sharded-only]
// Speed and memory of our Worker vs plain onnxruntime-web vs onnxruntime-node, one table.
// --quick: a tiny model and short runs (smoke check). --write: also regenerate BENCHMARKS.md.
// --model NAME: one model only. --isolate-only: only the isolate-memory phases (tools/bench/isolate-phases.ts) and their table,
//   then the same shape sharded, every isolate (front, each shard) through real requests (tools/bench/sharded-isolates.ts).
// --sharded-only: only sharded vs unsharded serving (tools/bench/sharded.ts) and its table.
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, ensureBenchModel, ensureShardedBenchModel, FULL_SHAPES, QUICK_SHAPES } from "./bench/models.js";
import { FULL_PLAN, QUICK_PLAN } from "./bench/plan.js";
import { batchTable, benchmarksMarkdown, cacheTable, machineDescription, memoryTable, speedTable } from "./bench/report.js";
import { benchModel, type ModelResult } from "./bench/run.js";
import { lookupResults, lookupTable } from "./bench/lookup.js";
import { benchKernelBlocks, kernelBlocksTable } from "./bench/kernel-blocks.js";
import { benchTokenizer, tokenizerMarkdown, tokenizerTable } from "./bench/tokenizer.js";
import { isolateTable } from "./bench/isolate-report.js";
import { benchIsolate, type IsolateResult } from "./bench/isolate-phases.js";
import { readFile } from "node:fs/promises";
import { benchSharded, FULL_SHARDED, QUICK_SHARDED, shardedTable } from "./bench/sharded.js";
import { benchShardedIsolates, shardedIsolatesFor } from "./bench/sharded-isolates.js";
import { shardedIsolatesTable } from "./bench/sharded-isolates-report.js";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, write: { type: "boolean", default: false }, "isolate-only": { type: "boolean", default: false }, "sharded-only": { type: "boolean", default: false }, model: { type: "string" } } });
  const plan = values.quick ? QUICK_PLAN : FULL_PLAN;
  // --model NAME: one of the shapes only (e.g. while working on one model's memory).
  const shapes = (values.quick ? QUICK_SHAPES : FULL_SHAPES).filter((s) => values.model === undefined || s.name === values.model);
  if (shapes.length === 0) throw new Error(`--model ${values.model}: no such bench model (${FULL_SHAPES.map((s) => s.name).join(", ")})`);
  const startedAt = new Date();
  const log = (line: string) => console.error(`[bench] ${line}`);
  console.log(machineDescription().join("\n"));
  // Sharded vs unsharded: GPT-2-124M's shape (the target), the tiny model with --quick.
  const shardedShape = shapes.find((s) => s.name === "gpt2") ?? shapes[0];
  const sharded = async () => {
    const shardedPlan = values.quick ? QUICK_SHARDED : FULL_SHARDED;
    const folder = await ensureBenchModel(shardedShape, log);
    return shardedTable(await benchSharded(folder, await ensureShardedBenchModel(shardedShape, shardedPlan.shards, log), shardedPlan, log));
  };
  if (values["sharded-only"]) {
    console.log(["", ...(await sharded())].join("\n"));
    return;
  }
  const tokenizer = await benchTokenizer(values.quick ? 3 : 7);
  const results: Record<string, ModelResult> = {};
  const isolates: Record<string, IsolateResult> = {};
  const shardedIsolateLines: string[] = [];
  for (const shape of shapes) {
    const folder = await ensureBenchModel(shape, log);
    const manifest = JSON.parse(await readFile(join(BENCH_DIR, folder, "manifest.json"), "utf8")) as { files: { role: string; bytes: number }[] };
    const weightBytes = manifest.files.filter((f) => f.role === "weights" || f.role === "mlp").reduce((a, f) => a + f.bytes, 0);
    if (values["isolate-only"]) {
      log(`${folder}: isolate memory phases…`);
      isolates[shape.name] = await benchIsolate(folder, plan);
    } else {
      results[shape.name] = await benchModel(folder, weightBytes, plan, log);
      isolates[shape.name] = results[shape.name].isolate;
    }
    // The same shape sharded (issues 12, 14): every isolate (front, each shard) through real requests.
    const shardedIsolates = shardedIsolatesFor(shape.name);
    if (shardedIsolates) {
      const shardedFolder = await ensureShardedBenchModel(shape, shardedIsolates.shards, log);
      shardedIsolateLines.push("", ...shardedIsolatesTable(await benchShardedIsolates(shardedFolder, shardedIsolates.plan, log)));
    }
  }
  if (values["isolate-only"]) {
    console.log(["", ...isolateTable(isolates), ...shardedIsolateLines].join("\n"));
    return;
  }
  log("the int8 kernel on the blocks' matmuls vs onnxruntime-web (Node, bounds checks)…");
  const blocks = kernelBlocksTable(await benchKernelBlocks(values.quick ? 3 : 9), results);
  const shardedLines = await sharded();
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  console.log(["", ...speedTable(results, plan), "", ...blocks, "", ...memoryTable(results), "", ...isolateTable(isolates), ...shardedIsolateLines, "", ...batchTable(results), "", ...cacheTable(results), "", ...lookupTable(lookupResults(results)), "", ...tokenizerTable(tokenizer), "", ...shardedLines].join("\n"));
  if (values.write) {
    if (values.quick) throw new Error("--write records a full run; drop --quick");
    const path = resolve(import.meta.dirname, "../BENCHMARKS.md");
    await writeFile(path, `${benchmarksMarkdown(results, plan, startedAt, seconds, blocks)}\n${tokenizerMarkdown(tokenizer)}`);
    log(`wrote ${path}`);
  }
}

main().then(
  () => process.exit(0), // wrangler's dev server keeps handles open
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
