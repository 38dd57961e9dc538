// The int8 kernel on the blocks' matmuls (issue 13, item 3): `npm run bench:lm-head`'s measurement
// in Node with explicit WebAssembly bounds checks (a child process, as workerd checks bounds), each
// block shape at M = 1, 2, 4, 8 rows against onnxruntime-web's int8 matmul. The MLPs' matmuls run
// in the kernel already (README, *The MLP kernel*); then what a decode step would save if the
// attention's two matmuls did too (M = 1, per layer, summed), next to our measured step — a
// projection, not a measurement.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { median, type ShapeResult } from "./lm-head-measure.js";
import type { ModelResult } from "./run.js";

export async function benchKernelBlocks(reps: number): Promise<ShapeResult[]> {
  const script = resolve(import.meta.dirname, "lm-head.ts");
  const child = spawn(process.execPath, ["--disable-wasm-trap-handler", "--import", "tsx", script, "--reps", String(reps), "--no-workerd", "--json"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.on("close", done));
  if (code !== 0) throw new Error(`tools/bench/lm-head.ts exited with code ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as ShapeResult[];
}

const LAYERS: Record<string, number> = { distilgpt2: 6, gpt2: 12 };

export function kernelBlocksTable(shapes: ShapeResult[], results: Record<string, ModelResult>): string[] {
  const rows = [
    "| matmul (K × N) | M | onnxruntime-web int8, ms | kernel, ms | kernel speed-up | max abs diff |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const r of shapes) {
    const [ort, kernel] = [median(r.ortMs), median(r.kernelMs)];
    rows.push(`| ${r.shape} ${r.K}×${r.N} | ${r.M} | ${ort.toFixed(2)} | ${kernel.toFixed(2)} | ${(ort / kernel).toFixed(2)}× | ${r.maxAbsDiff} |`);
  }
  // Still in onnxruntime: the attention's matmuls.
  const blocks = shapes.filter((r) => r.M === 1 && r.shape.startsWith("attn."));
  if (blocks.length === 0) return rows;
  const perLayer = (pick: (r: ShapeResult) => number[]) => blocks.reduce((sum, r) => sum + median(pick(r)), 0);
  rows.push("", "| model | attention matmuls per decode step (M = 1), onnxruntime → kernel, ms | our decode ms/token @16, measured | the same step with the kernel on them too, projected (an upper bound on the saving: each matrix measured hot in cache) | plain in workerd ÷ ours: now → projected |", "|---|---:|---:|---:|---:|");
  for (const [model, r] of Object.entries(results)) {
    const layers = LAYERS[model];
    if (!layers) continue;
    const [ort, kernel] = [perLayer((b) => b.ortMs) * layers, perLayer((b) => b.kernelMs) * layers];
    const ours = r.ours.decodeMs[16];
    const plain = r.plainWorkerd.decodeMs[16];
    if (ours === undefined || plain === undefined) continue;
    const projected = ours - (ort - kernel);
    rows.push(`| ${model} | ${ort.toFixed(1)} → ${kernel.toFixed(1)} | ${ours.toFixed(1)} | ${projected.toFixed(1)} | ${(plain / ours).toFixed(2)}× → ${(plain / projected).toFixed(2)}× |`);
  }
  return rows;
}
