// Wrangler configs for a sharded model (issue 14), written per model: the front Worker (this
// project's wrangler.toml with MODEL pointed at the model and one Durable Object binding per shard)
// and one Worker script per shard (src/shard/index.ts), each its own isolate. Written as JSON next
// to each other (paths absolute, so they work from any folder); `wrangler dev -c front -c shard-0 …`
// runs them together, `wrangler deploy -c …` deploys each.
//
// Names the front reads (src/shard/index.ts says the same):
//   env.SHARD_<i>     Durable Object namespace of shard i (class GptShard, script edge-gpt2-shard-<i>)
// The shards find their files through the front's manifest at MODEL in the same R2 bucket.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { experimental_readRawConfig } from "wrangler";
import type { ModelManifest } from "../../src/model/manifest.js";

const ROOT = resolve(import.meta.dirname, "../..");
export const SHARD_CLASS = "GptShard";
export const shardBinding = (index: number) => `SHARD_${index}`;
export const shardScript = (front: string, index: number) => `${front}-shard-${index}`;

export interface ShardedConfigOptions {
  /** How many shards the model's front manifest lists. */
  shards: number;
  /** The model's prefix in the bucket: MODEL = "r2:<prefix>" for the front and every shard. */
  prefix: string;
  /** Where to write front.json and shard-<i>.json. */
  outDir: string;
  /** SHARD_FAULTS = "1" everywhere: shards may be killed on purpose (tests, dev). */
  faults?: boolean;
  /** The front's wrangler config to start from (default: the project's wrangler.toml). */
  frontConfig?: string;
  /** Vars over every Worker's, front and shards alike (e.g. ISOLATE_MEMORY_BYTES: `wrangler dev
   * --var` reaches only the first config's Worker). */
  vars?: Record<string, string>;
}

type Raw = Record<string, unknown> & { name?: string; vars?: Record<string, unknown>; r2_buckets?: Array<{ binding: string; bucket_name: string }> };

/** Writes the configs; returns their paths, the front's first (wrangler dev's primary Worker). */
export async function writeShardedConfigs(options: ShardedConfigOptions): Promise<string[]> {
  const frontPath = resolve(options.frontConfig ?? join(ROOT, "wrangler.toml"));
  const base = experimental_readRawConfig({ config: frontPath }).rawConfig as Raw;
  const frontName = base.name ?? "edge-gpt2";
  const bucket = base.r2_buckets?.find((b) => b.binding === "MODEL_BUCKET");
  if (!bucket) throw new Error(`${frontPath} has no R2 binding MODEL_BUCKET: the shards read the model from the front's bucket`);
  const configDir = resolve(frontPath, "..");
  const absolute = (path: string) => resolve(configDir, path);
  const model = `r2:${options.prefix}`;
  const faults = options.faults ? { SHARD_FAULTS: "1" } : {};
  const memory = base.vars?.ISOLATE_MEMORY_BYTES === undefined ? {} : { ISOLATE_MEMORY_BYTES: base.vars.ISOLATE_MEMORY_BYTES };
  const shards = Array.from({ length: options.shards }, (_, i) => i);

  const front: Raw = {
    ...base,
    main: absolute(String(base.main)),
    ...(base.assets ? { assets: { ...(base.assets as object), directory: absolute(String((base.assets as { directory: string }).directory)) } } : {}),
    vars: { ...base.vars, MODEL: model, ...faults, ...options.vars },
    durable_objects: { bindings: shards.map((i) => ({ name: shardBinding(i), class_name: SHARD_CLASS, script_name: shardScript(frontName, i) })) },
  };
  const shardConfig = (i: number): Raw => ({
    name: shardScript(frontName, i),
    main: join(ROOT, "src/shard/index.ts"),
    compatibility_date: base.compatibility_date,
    compatibility_flags: ["nodejs_compat"],
    // the front's bundling: minified, its source takes a third of the JS heap it would (wrangler.toml)
    minify: base.minify,
    upload_source_maps: base.upload_source_maps,
    // onnxruntime's .wasm imported precompiled (workerd compiles no WebAssembly from bytes), and the
    // CPU time of a long prefill step (the front's limit, 30 s where it sets none)
    rules: [{ type: "CompiledWasm", globs: ["**/*.wasm"], fallthrough: false }],
    limits: base.limits ?? { cpu_ms: 30_000 },
    r2_buckets: [bucket],
    // The front's isolate memory: each shard isolate counts its instances' keys/values against it.
    vars: { MODEL: model, SHARD_INDEX: String(i), ...memory, ...faults, ...options.vars },
    durable_objects: { bindings: [{ name: "SHARD", class_name: SHARD_CLASS }] },
    migrations: [{ tag: "v1", new_sqlite_classes: [SHARD_CLASS] }],
    observability: base.observability,
  });

  await mkdir(options.outDir, { recursive: true });
  const written = [join(options.outDir, "front.json")];
  await writeFile(written[0], JSON.stringify(front, null, 2) + "\n");
  for (const i of shards) {
    written.push(join(options.outDir, `shard-${i}.json`));
    await writeFile(written[i + 1], JSON.stringify(shardConfig(i), null, 2) + "\n");
  }
  return written;
}

/** How many shards a sharded model folder's front manifest names (an error for any other folder). */
export async function shardCount(modelDir: string): Promise<number> {
  const manifest = JSON.parse(await readFile(join(modelDir, "manifest.json"), "utf8")) as ModelManifest;
  if (!manifest.shards?.length) throw new Error(`${modelDir} is not a sharded model (its manifest lists no shards): convert it with --shards N or --shard-memory MiB`);
  return manifest.shards.length;
}
