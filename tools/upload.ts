// CLI: npm run model:upload -- <model-dir> [--prefix <name>] [--remote] [--bucket edge-gpt2-models] [--persist-to <dir>]
// Puts a model folder (manifest.json + the files it lists) into the R2 bucket the Worker reads with
// MODEL = "r2:<prefix>", through `wrangler r2 object put` (local R2 by default, --remote for the
// account's bucket). Files are checked against the manifest before anything is sent, and the
// manifest goes last (after deleting the old one): until it lands, the Worker sees no model at that
// prefix — never a half-uploaded one it could mistake for complete.
import { spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import type { ModelManifest } from "../src/model/manifest.js";
import { sha256File } from "./fetch/download.js";

export const DEFAULT_BUCKET = "edge-gpt2-models";
const root = resolve(import.meta.dirname, "..");

export interface UploadOptions {
  modelDir: string;
  /** Key prefix in the bucket (MODEL = "r2:<prefix>"). Default: the folder's name. */
  prefix?: string;
  bucket?: string;
  remote?: boolean;
  /** Local R2 state directory (wrangler's --persist-to); default: wrangler dev's (.wrangler/state). */
  persistTo?: string;
  log?: (line: string) => void;
}

/** The wrangler commands, in order. Exported so the order itself is visible and testable. */
export async function planUpload(opts: UploadOptions): Promise<{ prefix: string; commands: string[][] }> {
  const dir = resolve(opts.modelDir);
  const manifest = await checkedManifest(dir);
  const prefix = (opts.prefix ?? basename(dir)).replace(/^\/+|\/+$/g, "");
  if (!prefix) throw new Error("--prefix must not be empty");
  const bucket = opts.bucket ?? DEFAULT_BUCKET;
  const where = [opts.remote ? "--remote" : "--local", ...(opts.persistTo && !opts.remote ? ["--persist-to", resolve(opts.persistTo)] : [])];
  const put = (name: string, type: string) => ["r2", "object", "put", `${bucket}/${prefix}/${name}`, "--file", join(dir, name), "--content-type", type, ...where];
  // A sharded model (issue 14): each shard's files, then its manifest, before the front's.
  const shardCommands: string[][] = [];
  for (const shard of manifest.shards ?? []) {
    const shardManifest = await checkedManifest(join(dir, shard.path));
    if ((await sha256File(join(dir, shard.path, "manifest.json"))) !== shard.manifest_sha256) {
      throw new Error(`${join(dir, shard.path)}/manifest.json is not the one ${dir}/manifest.json names: re-run the conversion`);
    }
    shardCommands.push(...shardManifest.files.map((f) => put(`${shard.path}/${f.path}`, "application/octet-stream")), put(`${shard.path}/manifest.json`, "application/json"));
  }
  return {
    prefix,
    commands: [
      ["r2", "object", "delete", `${bucket}/${prefix}/manifest.json`, ...where],
      ...shardCommands,
      ...manifest.files.map((f) => put(f.path, "application/octet-stream")),
      put("manifest.json", "application/json"),
    ],
  };
}

/** The folder's manifest, once every file it lists is there with its size and sha256. */
async function checkedManifest(dir: string): Promise<ModelManifest> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
  if (!Array.isArray(manifest.files) || manifest.files.length === 0) throw new Error(`${dir}/manifest.json lists no files`);
  for (const file of manifest.files) {
    const path = join(dir, file.path);
    const bytes = await stat(path).then((s) => s.size, () => -1);
    if (bytes < 0) throw new Error(`${path} is missing (listed in manifest.json)`);
    if (bytes !== file.bytes) throw new Error(`${path} is ${bytes} bytes, manifest says ${file.bytes}: re-run the conversion`);
    if ((await sha256File(path)) !== file.sha256) throw new Error(`${path} does not match its sha256 in manifest.json: re-run the conversion`);
  }
  return manifest;
}

export async function uploadModel(opts: UploadOptions): Promise<string> {
  const log = opts.log ?? console.log;
  const { prefix, commands } = await planUpload(opts);
  for (const args of commands) {
    log(`wrangler ${args.slice(0, 4).join(" ")}`);
    await wrangler(args);
  }
  return prefix;
}

function wrangler(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(root, "node_modules/.bin/wrangler"), args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`wrangler ${args.slice(0, 4).join(" ")} exited with ${code}:\n${output.trim().slice(-2000)}`)),
    );
  });
}

const USAGE = "usage: npm run model:upload -- <model-dir> [--prefix <name>] [--remote] [--bucket edge-gpt2-models] [--persist-to <dir>]";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      prefix: { type: "string" },
      remote: { type: "boolean", default: false },
      bucket: { type: "string" },
      "persist-to": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length !== 1) throw new Error(`expected exactly one model folder\n${USAGE}`);
  const started = Date.now();
  const prefix = await uploadModel({ modelDir: positionals[0], prefix: values.prefix, remote: values.remote, bucket: values.bucket, persistTo: values["persist-to"] });
  console.log(`uploaded to ${values.remote ? "remote" : "local"} R2 ${values.bucket ?? DEFAULT_BUCKET}/${prefix}/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`serve it: MODEL = "r2:${prefix}" in wrangler.toml, or: npx wrangler dev --var MODEL:r2:${prefix}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(`model:upload failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
