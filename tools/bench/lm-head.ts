// `npm run bench:lm-head`: the int8 WASM SIMD kernel (src/engine/lm-head) against
// onnxruntime-web's int8 matmul (the converted graph's nodes, one thread) on GPT-2-124M's LM head
// (768 × 50257) and block matmuls, M = 1, 2, 4, 8 rows — in Node with explicit WebAssembly bounds
// checks (`--disable-wasm-trap-handler`, what workerd does) and inside workerd itself.
// Weights are random (quantized like the converter's, absmax clipping); speed does not depend on them.
//   options: --reps N (default 15) · --blocks-only · --lm-head-only · --no-workerd
//            · --json (the results as one JSON line at the end: `npm run bench` reads it)
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import * as ort from "onnxruntime-web";
import { unstable_dev } from "wrangler";
import { TiedEmbedding } from "../../src/engine/lm-head/index.js";
import { BLOCK_SHAPES, formatResult, LM_HEAD_SHAPE, measureShape, TABLE_HEADER, type MatmulShape, type ShapeResult } from "./lm-head-measure.js";
import { lmHeadModel, lmHeadModuleFromDisk, quantizeTable, randomFloats } from "./lm-head-onnx.js";

const ROWS = [1, 2, 4, 8];
const args = process.argv.slice(2);
const reps = Number(args[args.indexOf("--reps") + 1]) || 15;
const shapes = [...(args.includes("--blocks-only") ? [] : [LM_HEAD_SHAPE]), ...(args.includes("--lm-head-only") ? [] : BLOCK_SHAPES)];

interface ShapeFiles {
  model: Uint8Array;
  table: Int8Array;
  scales: Float32Array;
}

function buildShape(shape: MatmulShape, seed: number): ShapeFiles {
  // The "table" is the matmul's weight transposed, [N, K]: one row (and one scale) per output.
  const weights = randomFloats(shape.N * shape.K, seed, 0.1);
  const { table, scales } = quantizeTable(weights, shape.N, shape.K, "absmax");
  return { model: lmHeadModel(weights, shape.N, shape.K, "absmax", { embedding: false }), table, scales };
}

/**
 * This process's CPU time, ms. The machine is shared: wall time of anything longer than a
 * scheduler time slice also counts other processes' slices, CPU time does not. (workerd has only
 * its wall clock.)
 */
function cpuClock(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function measureInNode(shape: MatmulShape, files: ShapeFiles): Promise<ShapeResult[]> {
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(files.model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const kernel = await TiedEmbedding.create(await lmHeadModuleFromDisk(), { vocab: shape.N, hidden: shape.K });
  kernel.table.set(files.table);
  kernel.scales.set(files.scales);
  try {
    return await measureShape(ort, session, kernel, shape, ROWS, reps, cpuClock);
  } finally {
    await session.release();
  }
}

/** Serves each shape's files to the bench Worker: /<shape>/model.onnx, table.bin, scales.bin. */
function serveShapes(files: Map<string, ShapeFiles>): Promise<Server> {
  const server = createServer((req, res) => {
    const [, shape, file] = new URL(req.url ?? "/", "http://x").pathname.split("/");
    const entry = files.get(decodeURIComponent(shape));
    const body = !entry ? null : file === "model.onnx" ? entry.model : file === "table.bin" ? entry.table : file === "scales.bin" ? entry.scales : null;
    if (!body) return void res.writeHead(404).end("not found");
    res.writeHead(200, { "content-length": body.byteLength }).end(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

async function measureInWorkerd(files: Map<string, ShapeFiles>): Promise<ShapeResult[]> {
  const server = await serveShapes(files);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
  const worker = await unstable_dev(resolve(import.meta.dirname, "lm-head-worker.ts"), {
    config: resolve(import.meta.dirname, "wrangler.toml"),
    logLevel: "warn",
    experimental: { disableExperimentalWarning: true, watch: false, disableDevRegistry: true },
  });
  const results: ShapeResult[] = [];
  try {
    for (const shape of shapes) {
      const response = await worker.fetch("http://bench/measure", { method: "POST", body: JSON.stringify({ origin, shape, rows: ROWS, reps }) });
      const text = await response.text();
      if (!response.ok) throw new Error(`bench worker: HTTP ${response.status}: ${text.slice(0, 500)}`);
      results.push(...(JSON.parse(text) as ShapeResult[]));
    }
  } finally {
    await worker.stop();
    await new Promise<void>((done) => server.close(() => done()));
  }
  return results;
}

async function main(): Promise<void> {
  const boundsChecked = process.execArgv.includes("--disable-wasm-trap-handler");
  const nodeLabel = `Node (${boundsChecked ? "bounds checks" : "trap handler"}), CPU time`;
  if (!boundsChecked) console.warn("note: run with node --disable-wasm-trap-handler (npm run bench:lm-head) to check bounds as workerd does");
  const files = new Map(shapes.map((shape, i) => [shape.name, buildShape(shape, 1 + i)]));
  const lines = [...TABLE_HEADER];
  const nodeResults: ShapeResult[] = [];
  for (const shape of shapes) {
    for (const r of await measureInNode(shape, files.get(shape.name)!)) {
      nodeResults.push(r);
      lines.push(formatResult(nodeLabel, r));
    }
    console.log(lines.at(-1));
  }
  if (!args.includes("--no-workerd")) {
    for (const r of await measureInWorkerd(files)) lines.push(formatResult("workerd, wall time", r));
  }
  console.log(`\nint8 matmul, kernel vs onnxruntime-web ${ort.env.versions.web} (1 thread), ${reps} interleaved repetitions\n`);
  console.log(lines.join("\n"));
  if (args.includes("--json")) console.log(JSON.stringify(nodeResults));
}

await main();
