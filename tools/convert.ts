// CLI: npm run model:convert -- <checkpoint-dir> [--dtype int8|fp32] [--out <dir>] [--name <name>] [--attention gqa|mha]
//   [--embedding graph|external]  (external, the int8 default: graph from inputs_embeds to hidden_states
//   + embedding.int8 for the engine's LM-head kernel; graph: the old single-graph layout, fp32's default)
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { convertCheckpoint } from "./convert/index.js";

const USAGE = "usage: npm run model:convert -- <checkpoint-dir> [--dtype int8|fp32] [--out <dir>] [--name <name>] [--attention gqa|mha] [--embedding graph|external]";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dtype: { type: "string", default: "int8" },
      out: { type: "string" },
      name: { type: "string" },
      attention: { type: "string" },
      embedding: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length !== 1) throw new Error(`expected exactly one checkpoint folder\n${USAGE}`);
  const dtype = values.dtype;
  if (dtype !== "int8" && dtype !== "fp32") throw new Error(`--dtype must be int8 or fp32, got ${dtype}`);
  const attention = values.attention;
  if (attention !== undefined && attention !== "gqa" && attention !== "mha") throw new Error(`--attention must be gqa or mha, got ${attention}`);
  const embedding = values.embedding;
  if (embedding !== undefined && embedding !== "graph" && embedding !== "external") throw new Error(`--embedding must be graph or external, got ${embedding}`);
  const checkpoint = resolve(positionals[0]);
  const outDir = resolve(values.out ?? `model/${basename(checkpoint)}-${dtype}`);
  const started = Date.now();
  const manifest = await convertCheckpoint(checkpoint, { dtype, outDir, name: values.name, attention, embedding });
  const a = manifest.architecture;
  console.log(`converted ${checkpoint} → ${outDir} (${dtype}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`  n_layer=${a.n_layer} n_head=${a.n_head} n_embd=${a.n_embd} vocab=${a.vocab_size} kv_padding=${manifest.io.kv_padding}`);
  for (const f of manifest.files) console.log(`  ${f.path}  ${(f.bytes / 1e6).toFixed(2)} MB  sha256 ${f.sha256.slice(0, 16)}…`);
}

main().catch((e: unknown) => {
  console.error(`model:convert failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
