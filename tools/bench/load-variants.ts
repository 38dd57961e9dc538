// CLI: npx tsx tools/bench/load-variants.ts [--quick] [--heap-mib 112]
// Issue 12 prototypes, before / after: the isolate's load peak (JS heap + ArrayBuffers + WASM,
// tools/lib/isolate-memory.ts) of the distilgpt2-shaped int8 model (--quick: the tiny one), each
// variant in a fresh workerd:
//   registry        today's path (src/engine/registry.ts): weights read whole, then copied by ORT
//   registry+heap   the same with ORT's WASM heap grown once to --heap-mib (src/engine/wasm-heap.ts)
//   streamed        weights streamed in chunks, each dropped once ORT copied it (src/engine/stream-weights.ts)
//   streamed+heap   both, the heap grown at instantiation or once the session exists (after load)
// The registry variants then generate plan.memoryTokens tokens (heap sizing is about what follows load).
import { parseArgs } from "node:util";
import { mib } from "../lib/isolate-memory.js";
import { connectIsolate } from "./isolate-phases.js";
import { BENCH_DIR, ensureBenchModel, FULL_SHAPES, plainFolder, QUICK_SHAPES } from "./models.js";
import { FULL_PLAN, QUICK_PLAN } from "./plan.js";
import { startBenchWorker } from "./workerd.js";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, "heap-mib": { type: "string" }, only: { type: "string" } } });
const shape = values.quick ? QUICK_SHAPES[0] : FULL_SHAPES[0];
const plan = values.quick ? QUICK_PLAN : FULL_PLAN;
const heapBytes = Number(values["heap-mib"] ?? (values.quick ? 32 : 112)) * 2 ** 20;

async function variant(name: string, model: string, route: "/load" | "/load-streamed", heap: number, growAfterLoad: boolean): Promise<string> {
  const worker = await startBenchWorker(BENCH_DIR);
  const { isolate, idle } = await connectIsolate(worker);
  try {
    const load = await isolate.measure(() => worker.call<Record<string, number>>(route, { model, heapBytes: heap, growAfterLoad }));
    const p = load.memory.peak;
    let generation = "—";
    if (route === "/load") {
      const run = await isolate.measure(() => worker.call("/generate", { model, promptTokens: 8, newTokens: plan.memoryTokens }));
      generation = `${mib(run.memory.peak.total)} (WASM ${mib(run.memory.peak.wasm)})`;
    }
    const a = load.memory.after;
    return `| ${name} | ${mib(idle.total)} | **${mib(p.total)}** (${mib(p.heapUsed)} / ${mib(p.backingStores)} / ${mib(p.wasm)}) | ${mib(a.total)} (WASM ${mib(a.wasm)}) | ${generation} | ${JSON.stringify(load.result)} |`;
  } finally {
    isolate.close();
    await worker.close();
  }
}

async function main(): Promise<void> {
  // The one-graph conversion (--embedding graph): the variants compare ways of loading one graph.
  const model = plainFolder(await ensureBenchModel(shape, (line) => console.error(`[load-variants] ${line}`)));
  const rows = [
    `${shape.name}-shaped int8; planned heap ${mib(heapBytes)}; MiB; peak as total (JS heap / ArrayBuffers / WASM)`,
    "",
    `| variant | idle | load peak | after load (GC) | 1 × ${plan.memoryTokens} tokens, peak | route's answer |`,
    "|---|---:|---:|---:|---:|---|",
  ];
  const variants = [
    ["registry (today)", "/load", 0, false],
    ["registry + heap sized at instantiation", "/load", heapBytes, false],
    ["streamed", "/load-streamed", 0, false],
    ["streamed + heap sized at instantiation", "/load-streamed", heapBytes, false],
    ["streamed + heap sized after load", "/load-streamed", heapBytes, true],
  ] as const;
  // --only 1,5: a subset, by position in the list above.
  const only = values.only ? new Set(values.only.split(",").map(Number)) : null;
  for (const [index, [name, route, heap, after]] of variants.entries()) {
    if (only && !only.has(index + 1)) continue;
    console.error(`[load-variants] ${name}…`);
    rows.push(await variant(name, model, route, heap, after));
  }
  console.log(rows.join("\n"));
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
