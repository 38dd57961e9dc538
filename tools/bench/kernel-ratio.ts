// CLI: npx tsx tools/bench/kernel-ratio.ts [--reps 5] [--steps 16] [--shapes distilgpt2,gpt2]
// Issue 13's headline ratio, measured so a loaded machine cannot skew it: our serving path (int8
// with the LM-head kernel) against the plain onnxruntime-web loop on the same model converted as
// one graph, both inside one workerd, runs alternating: decode ms/token at contexts 16 and 128 and
// TTFT for a 128-token prompt, medians over repetitions. Also WASM memory after load of our path
// with the kernel layout and with the one-graph layout (each in a fresh workerd).
import { parseArgs } from "node:util";
import { BENCH_DIR, ensureBenchModel, FULL_SHAPES, plainFolder } from "./models.js";
import { median } from "./plain-loop.js";
import { startBenchWorker } from "./workerd.js";

const CONTEXTS = [16, 128];
const TTFT_TOKENS = 128;

interface Steps {
  stepMs: number[];
  ttftMs?: number;
}

async function wasmAfterLoad(model: string): Promise<number> {
  const worker = await startBenchWorker(BENCH_DIR);
  try {
    return (await worker.call<{ wasmBytes: number }>("/load", { model })).wasmBytes;
  } finally {
    await worker.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: "string", default: "5" }, steps: { type: "string", default: "16" }, shapes: { type: "string", default: "distilgpt2,gpt2" } } });
  const reps = Number(values.reps);
  const steps = Number(values.steps);
  const log = (line: string) => console.error(`[kernel-ratio] ${line}`);
  for (const shape of FULL_SHAPES.filter((s) => values.shapes.split(",").includes(s.name))) {
    const folder = await ensureBenchModel(shape, log);
    log(`${shape.name}: WASM after load, kernel layout vs one graph…`);
    const memory = { kernel: await wasmAfterLoad(folder), graph: await wasmAfterLoad(plainFolder(folder)) };
    const worker = await startBenchWorker(BENCH_DIR);
    try {
      await worker.call("/load", { model: folder });
      const ours = (prompt: number, tokens: number) => worker.call<Steps>("/generate", { model: folder, promptTokens: prompt, newTokens: tokens });
      const plain = (prompt: number, tokens: number) => worker.call<Steps>("/plain-steps", { model: plainFolder(folder), promptTokens: prompt, newTokens: tokens });
      await ours(8, 3); // warm-up both (first-run allocations)
      await plain(8, 3);
      const decode: Record<number, { ours: number[]; plain: number[] }> = {};
      const ttft = { ours: [] as number[], plain: [] as number[] };
      for (let rep = 0; rep < reps; rep++) {
        log(`${shape.name}: repetition ${rep + 1}/${reps}`);
        for (const context of CONTEXTS) {
          decode[context] ??= { ours: [], plain: [] };
          // Alternate which goes first, so a slow spell on the machine hits both alike.
          const order = rep % 2 ? [plain, ours] : [ours, plain];
          for (const run of order) {
            const result = await run(context, steps + 1);
            (run === ours ? decode[context].ours : decode[context].plain).push(median(run === ours ? result.stepMs : result.stepMs.slice(1)));
          }
        }
        ttft.ours.push((await ours(TTFT_TOKENS, 1)).ttftMs!);
        ttft.plain.push((await plain(TTFT_TOKENS, 1)).stepMs[0]);
      }
      const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
      console.log(`\n${shape.name} (int8, ${reps} interleaved repetitions, ${steps} decode steps each; medians, [min–max] ms)`);
      for (const context of CONTEXTS) {
        const { ours: a, plain: b } = decode[context];
        const ratios = a.map((ms, i) => b[i] / ms);
        console.log(`  decode @${context}: ours ${median(a).toFixed(1)} ms/token [${spread(a)}] (${(1000 / median(a)).toFixed(1)} tok/s), plain ORT-web ${median(b).toFixed(1)} ms/token [${spread(b)}] (${(1000 / median(b)).toFixed(1)} tok/s) → speed-up ${median(ratios).toFixed(2)}× [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`);
      }
      const ttftRatios = ttft.ours.map((ms, i) => ttft.plain[i] / ms);
      console.log(`  TTFT(${TTFT_TOKENS}): ours ${median(ttft.ours).toFixed(0)} ms [${spread(ttft.ours)}], plain ${median(ttft.plain).toFixed(0)} ms [${spread(ttft.plain)}] → ${median(ttftRatios).toFixed(2)}× (ours includes tokenization and the service)`);
      console.log(`  WASM after load (ours): kernel layout ${(memory.kernel / 2 ** 20).toFixed(1)} MiB, one graph ${(memory.graph / 2 ** 20).toFixed(1)} MiB`);
    } finally {
      await worker.close();
    }
  }
}

main().then(
  () => process.exit(0), // wrangler's dev server keeps handles open
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
