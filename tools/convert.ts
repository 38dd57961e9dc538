// CLI: npm run model:convert -- <checkpoint-dir> [--dtype int8|fp32] [--out <dir> | --assets] [--name <name>] [--attention gqa|mha]
//   [--embedding graph|external]  (external, the int8 default: graph from inputs_embeds to hidden_states
//   + embedding.int8 for the engine's LM-head kernel; graph: the old single-graph layout, fp32's default)
//   [--mlp kernel|graph]  (kernel, the default where it fits: the blocks' MLPs in the engine's int8
//   kernel between one graph per block; graph: the MLPs inside the graph)
//   [--shards N | --shard-memory MiB [--shard-prefill N]]  (int8: the transformer blocks split into
//   shard-<i>/ folders, each served by a Durable Object of its own; see tools/convert/shard-plan.ts)
// Output goes to models/<name>-<dtype> (gitignored; serve it from R2) unless --assets (or an --out
// inside model/) picks the Worker's static assets, where no file may exceed 25 MiB: there the
// weights are split into parts the loader joins.
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { convertCheckpoint, type ConvertOptions } from "./convert/index.js";
import { ASSET_FILE_LIMIT } from "./convert/write-model.js";

const USAGE = `usage: npm run model:convert -- <checkpoint-dir> [--dtype int8|fp32] [--out <dir> | --assets] [--name <name>] [--attention gqa|mha] [--embedding graph|external]
    [--mlp kernel|graph] [--shards N | --shard-memory <MiB per shard isolate> [--shard-prefill <longest prefill, positions>]]
  default output: models/<checkpoint>-<dtype>; --assets: model/<checkpoint>-<dtype> (static assets, weights split into ≤ 25 MiB parts)`;

const ROOT = resolve(import.meta.dirname, "..");
/** The Worker's static assets folder ([assets] directory in wrangler.toml). */
const ASSETS_DIR = resolve(ROOT, "model");

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dtype: { type: "string", default: "int8" },
      out: { type: "string" },
      name: { type: "string" },
      attention: { type: "string" },
      embedding: { type: "string" },
      mlp: { type: "string" },
      assets: { type: "boolean", default: false },
      shards: { type: "string" },
      "shard-memory": { type: "string" },
      "shard-prefill": { type: "string" },
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
  const mlp = values.mlp;
  if (mlp !== undefined && mlp !== "kernel" && mlp !== "graph") throw new Error(`--mlp must be kernel or graph, got ${mlp}`);
  const shards = shardOption(values.shards, values["shard-memory"], values["shard-prefill"]);
  const checkpoint = resolve(positionals[0]);
  if (values.out && values.assets) throw new Error(`--out and --assets exclude each other (--assets writes model/<name>-<dtype>)\n${USAGE}`);
  const folder = `${basename(checkpoint)}-${dtype}`;
  const outDir = values.out ? resolve(values.out) : resolve(ROOT, values.assets ? "model" : "models", folder);
  const inAssetsPath = relative(ASSETS_DIR, outDir);
  if (inAssetsPath === "") throw new Error("--out model/ would mix the model with the other asset folders: use model/<name>");
  const inAssets = !inAssetsPath.startsWith("..") && !isAbsolute(inAssetsPath);
  const started = Date.now();
  const maxFileBytes = inAssets ? ASSET_FILE_LIMIT : undefined;
  const manifest = await convertCheckpoint(checkpoint, { dtype, outDir, name: values.name, attention, embedding, mlp, maxFileBytes, shards });
  const a = manifest.architecture;
  console.log(`converted ${checkpoint} → ${outDir} (${dtype}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`  n_layer=${a.n_layer} n_head=${a.n_head} n_embd=${a.n_embd} vocab=${a.vocab_size} kv_padding=${manifest.io.kv_padding}`);
  for (const f of manifest.files) {
    console.log(`  ${f.path}  ${(f.bytes / 1e6).toFixed(2)} MB  sha256 ${f.sha256.slice(0, 16)}…${f.parts ? `  stored as ${f.parts.length} parts (static assets: ≤ 25 MiB per file)` : ""}`);
  }
  for (const shard of manifest.shards ?? []) {
    console.log(`  ${shard.path}/  blocks [${shard.layers[0]}, ${shard.layers[1]})  ${(shard.bytes / 1e6).toFixed(2)} MB`);
  }
  if (manifest.shards) {
    console.log(`  serve it: npm run dev:sharded -- ${relative(process.cwd(), outDir) || "."}  (deploy: npm run deploy:sharded -- ${relative(process.cwd(), outDir) || "."})`);
    return;
  }
  const served = inAssets ? `MODEL = "assets:${inAssetsPath.split(sep).join("/")}"` : `npm run model:upload -- ${relative(process.cwd(), outDir) || "."}, then MODEL = "r2:${basename(outDir)}"`;
  console.log(`  serve it: ${served}`);
}

function shardOption(count?: string, memory?: string, prefill?: string): ConvertOptions["shards"] {
  const positive = (flag: string, v: string) => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n > 0)) throw new Error(`--${flag} must be a positive integer, got ${v}`);
    return n;
  };
  if (count !== undefined && memory !== undefined) throw new Error(`--shards and --shard-memory exclude each other\n${USAGE}`);
  if (prefill !== undefined && memory === undefined) throw new Error(`--shard-prefill only refines --shard-memory\n${USAGE}`);
  if (count !== undefined) return { count: positive("shards", count) };
  if (memory === undefined) return undefined;
  return { memoryBytes: positive("shard-memory", memory) * 2 ** 20, prefill: prefill === undefined ? undefined : positive("shard-prefill", prefill) };
}

main().catch((e: unknown) => {
  console.error(`model:convert failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
