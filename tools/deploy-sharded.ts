// CLI: npm run deploy:sharded -- <model-dir> [--prefix <name>] [--bucket edge-gpt2-models] [--dry-run]
// Deploys a sharded model (issue 14) to the account wrangler is logged in to, in the order that
// never leaves the front pointing at something missing: the model into the R2 bucket (front
// manifest last), then every shard Worker (each a script of its own: its own isolate), then the
// front, whose Durable Object bindings name the shard scripts. Before anything is uploaded, every
// Worker is bundled as `wrangler deploy` would (a dry run: config read, bundle built, its size and
// contents checked), so a broken config fails here rather than halfway through a deploy.
// --dry-run does that much, needs no account, and prints the commands instead of running them.
import { spawnSync } from "node:child_process";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundleWorker, checkBundle, mib } from "./lib/bundle.js";
import { shardCount, writeShardedConfigs } from "./sharded/config.js";
import { planUpload } from "./upload.js";

const ROOT = resolve(import.meta.dirname, "..");
const USAGE = "usage: npm run deploy:sharded -- <model-dir> [--prefix <name>] [--bucket edge-gpt2-models] [--dry-run]";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { prefix: { type: "string" }, bucket: { type: "string" }, "dry-run": { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length !== 1) throw new Error(`expected exactly one model folder\n${USAGE}`);
  const modelDir = resolve(positionals[0]);
  const shards = await shardCount(modelDir);
  const { prefix, commands: upload } = await planUpload({ modelDir, prefix: values.prefix ?? basename(modelDir), bucket: values.bucket, remote: true });
  const outDir = join(ROOT, ".wrangler/sharded", `deploy-${prefix.replace(/\//g, "_")}`);
  const configs = await writeShardedConfigs({ shards, prefix, outDir });
  const [front, ...shardConfigs] = configs;
  for (const config of configs) {
    const name = basename(config, ".json");
    const bundle = await bundleWorker(config, join(outDir, "dist", name));
    checkBundle(bundle, name);
    console.log(`bundled ${name}: ${bundle.modules.length} modules, ${mib(bundle.gzip)} gzip (wrangler deploy --dry-run -c ${config})`);
  }
  const commands = [...upload, ...shardConfigs.map((c) => ["deploy", "-c", c]), ["deploy", "-c", front]];
  for (const args of commands) {
    console.log(`wrangler ${args.join(" ")}`);
    if (values["dry-run"]) continue;
    const run = spawnSync(join(ROOT, "node_modules/.bin/wrangler"), args, { cwd: ROOT, stdio: "inherit" });
    if (run.status !== 0) throw new Error(`wrangler ${args.slice(0, 3).join(" ")} exited with ${run.status}`);
  }
  if (!values["dry-run"]) console.log(`deployed ${shards} shard Worker(s) and the front; MODEL = "r2:${prefix}"`);
}

main().catch((e: unknown) => {
  console.error(`deploy:sharded failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
