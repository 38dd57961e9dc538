// CLI: npm run bench [-- --quick] [-- --write]
// Speed and memory of our Worker vs plain onnxruntime-web vs onnxruntime-node, one table.
// --quick: a tiny model and short runs (smoke check). --write: also regenerate BENCHMARKS.md.
// --isolate-only: only the isolate-memory phases (tools/bench/isolate-phases.ts) and their table.
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, ensureBenchModel, FULL_SHAPES, QUICK_SHAPES } from "./bench/models.js";
import { FULL_PLAN, QUICK_PLAN } from "./bench/plan.js";
import { batchTable, benchmarksMarkdown, cacheTable, machineDescription, memoryTable, speedTable } from "./bench/report.js";
import { benchModel, type ModelResult } from "./bench/run.js";
import { lookupResults, lookupTable } from "./bench/lookup.js";
import { benchKernelBlocks, kernelBlocksTable } from "./bench/kernel-blocks.js";
import { benchTokenizer, tokenizerMarkdown, tokenizerTable } from "./bench/tokenizer.js";
import { isolateTable } from "./bench/isolate-report.js";
import { benchIsolate, type IsolateResult } from "./bench/isolate-phases.js";
import { readFile } from "node:fs/promises";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, write: { type: "boolean", default: false }, "isolate-only": { type: "boolean", default: false } } });
  const plan = values.quick ? QUICK_PLAN : FULL_PLAN;
  const shapes = values.quick ? QUICK_SHAPES : FULL_SHAPES;
  const startedAt = new Date();
  const log = (line: string) => console.error(`[bench] ${line}`);
  console.log(machineDescription().join("\n"));
  const tokenizer = await benchTokenizer(values.quick ? 3 : 7);
  const results: Record<string, ModelResult> = {};
  const isolates: Record<string, IsolateResult> = {};
  for (const shape of shapes) {
    const folder = await ensureBenchModel(shape, log);
    const manifest = JSON.parse(await readFile(join(BENCH_DIR, folder, "manifest.json"), "utf8")) as { files: { role: string; bytes: number }[] };
    const weightBytes = manifest.files.filter((f) => f.role === "weights").reduce((a, f) => a + f.bytes, 0);
    if (values["isolate-only"]) {
      log(`${folder}: isolate memory phases…`);
      isolates[shape.name] = await benchIsolate(folder, weightBytes, plan);
      continue;
    }
    results[shape.name] = await benchModel(folder, weightBytes, plan, log);
    isolates[shape.name] = results[shape.name].isolate;
  }
  if (values["isolate-only"]) {
    console.log(["", ...isolateTable(isolates)].join("\n"));
    return;
  }
  log("the int8 kernel on the blocks' matmuls vs onnxruntime-web (Node, bounds checks)…");
  const blocks = kernelBlocksTable(await benchKernelBlocks(values.quick ? 3 : 9), results);
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  console.log(["", ...speedTable(results, plan), "", ...blocks, "", ...memoryTable(results), "", ...isolateTable(isolates), "", ...batchTable(results), "", ...cacheTable(results), "", ...lookupTable(lookupResults(results)), "", ...tokenizerTable(tokenizer)].join("\n"));
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
