// CLI: npm run model:fetch -- <gpt2|distilgpt2|gpt2-medium|hub-repo-id> [--out <dir>] [--dtype int8|fp32]
//        [--revision main] [--format auto|checkpoint|onnx] [--cache <dir>]
import { parseArgs } from "node:util";
import { fetchModel, type FetchFormat } from "./fetch/index.js";

const USAGE = `usage: npm run model:fetch -- <gpt2|distilgpt2|gpt2-medium|hub-repo-id> [--out <dir>] [--dtype int8|fp32] [--revision main]
       [--format auto|checkpoint|onnx] [--cache <dir>]
  env: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated repos)`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      dtype: { type: "string", default: "int8" },
      revision: { type: "string", default: "main" },
      format: { type: "string", default: "auto" },
      cache: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length !== 1) throw new Error(`expected exactly one model name or hub repo id\n${USAGE}`);
  const dtype = values.dtype;
  if (dtype !== "int8" && dtype !== "fp32") throw new Error(`--dtype must be int8 or fp32, got ${dtype}`);
  const format = values.format as FetchFormat;
  if (!["auto", "checkpoint", "onnx"].includes(format)) throw new Error(`--format must be auto, checkpoint or onnx, got ${format}`);
  const started = Date.now();
  const result = await fetchModel({ model: positionals[0], dtype, revision: values.revision, format, outDir: values.out, cacheDir: values.cache });
  for (const f of result.files) {
    console.log(`  ${f.path}  ${(f.bytes / 1e6).toFixed(2)} MB  ${f.status}${f.resumedFrom.length ? ` (resumed)` : ""}  sha256 ${f.sha256.slice(0, 16)}…`);
  }
  const a = result.manifest.architecture;
  const how = result.format === "onnx" ? "ONNX export, served as is" : `converted to ${dtype}`;
  console.log(`${result.repo} → ${result.outDir} (${how}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`  n_layer=${a.n_layer} n_head=${a.n_head} n_embd=${a.n_embd} vocab=${a.vocab_size}`);
  console.log(`  serve it: npm run model:upload -- ${result.outDir}   (then MODEL="r2:${result.outDir.split("/").pop()}")`);
}

main().catch((e: unknown) => {
  console.error(`model:fetch failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
