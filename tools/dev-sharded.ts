// CLI: npm run dev:sharded -- <model-dir> [--port 8787] [--prefix <name>] [--faults] [--inspector-port <n>]
// Runs a sharded model (issue 14) locally as it runs deployed: puts the model folder (front files and
// every shard folder) into local R2, writes the wrangler configs (tools/sharded/config.ts) and starts
// the front Worker and one Worker per shard in one `wrangler dev` (front first: it serves the port).
// --faults sets SHARD_FAULTS=1, so shards can be killed on purpose to watch the front recover.
import { spawn } from "node:child_process";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { shardCount, writeShardedConfigs } from "./sharded/config.js";
import { uploadModel } from "./upload.js";

const ROOT = resolve(import.meta.dirname, "..");
const USAGE = "usage: npm run dev:sharded -- <model-dir> [--port 8787] [--prefix <name>] [--faults] [--inspector-port <n>] [--persist-to <dir>]";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: "string", default: "8787" },
      prefix: { type: "string" },
      faults: { type: "boolean", default: false },
      "inspector-port": { type: "string" },
      "persist-to": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length !== 1) throw new Error(`expected exactly one model folder\n${USAGE}`);
  const modelDir = resolve(positionals[0]);
  const shards = await shardCount(modelDir);
  const persistTo = resolve(values["persist-to"] ?? join(ROOT, ".wrangler/state"));
  const prefix = await uploadModel({ modelDir, prefix: values.prefix ?? basename(modelDir), persistTo });
  const configs = await writeShardedConfigs({ shards, prefix, outDir: join(ROOT, ".wrangler/sharded", prefix.replace(/\//g, "_")), faults: values.faults });
  console.log(`${shards} shard Worker(s) + the front, model r2:${prefix}; configs: ${configs.join(" ")}`);
  const args = [
    "dev", ...configs.flatMap((c) => ["-c", c]), "--port", values.port, "--persist-to", persistTo,
    ...(values["inspector-port"] ? ["--inspector-port", values["inspector-port"]] : []),
  ];
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, { cwd: ROOT, stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code) => process.exit(code ?? 0));
}

main().catch((e: unknown) => {
  console.error(`dev:sharded failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
