// The plain onnxruntime-web loop (plain-loop.ts) in a child Node process, so the bench can run it
// with Node flags its own process lacks — `--disable-wasm-trap-handler`: explicit WebAssembly
// bounds checks, as workerd does — and still interleave its repetitions with the other engines.
// Protocol: argv[2] is the model folder; the child prints one JSON line when loaded
// ({ coldStartMs }), then answers each stdin line { promptTokens, newTokens } with { stepMs }.
import { createInterface } from "node:readline";
import * as ortWeb from "onnxruntime-web";
import { loadPlain } from "./plain-load.js";
import { plainGreedy, type OrtPackage } from "./plain-loop.js";
import { benchPrompt } from "./plan.js";

async function main(): Promise<void> {
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.logLevel = "error";
  const ort = ortWeb as unknown as OrtPackage;
  const model = await loadPlain(ort, process.argv[2], { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  process.stdout.write(`${JSON.stringify({ coldStartMs: model.coldStartMs })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const { promptTokens, newTokens } = JSON.parse(line) as { promptTokens: number; newTokens: number };
    const stepMs = await plainGreedy(ort, model, benchPrompt(promptTokens, model.manifest.architecture.vocab_size), newTokens);
    process.stdout.write(`${JSON.stringify({ stepMs })}\n`);
  }
  await model.session.release();
}

main().catch((error: unknown) => {
  process.stderr.write(`plain-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
