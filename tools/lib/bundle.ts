// A Worker bundled exactly as `wrangler deploy` would upload it (a dry run into a folder), with
// each module's gzip size, and the checks a deploy would otherwise fail on later: the compressed
// total above the Workers limit (10 MiB on the paid plan), or a model file in the bundle (models
// belong in R2 or static assets, never in the script). Needs no account. Used by `npm run build`
// (the front) and `npm run deploy:sharded` (every shard Worker and the front, before any upload).
import { spawn } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = resolve(import.meta.dirname, "../..");
export const LIMIT_BYTES = 10 * 1024 * 1024;
const MODEL_FILE = /\.(onnx|onnx\.data|onnx_data(_\d+)?|safetensors)$/;

export interface Bundle {
  outDir: string;
  modules: { path: string; bytes: number; gzip: number }[];
  bytes: number;
  gzip: number;
  /** wrangler's own "Total Upload" line, when it printed one. */
  wranglerTotal?: string;
}

/** `wrangler deploy --dry-run` of `config` (null: the project's wrangler.toml) into `outDir` (emptied first). */
export async function bundleWorker(config: string | null, outDir: string): Promise<Bundle> {
  await rm(outDir, { recursive: true, force: true });
  const output = await run(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outDir, ...(config ? ["-c", config] : [])]);
  const files = (await readdir(outDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.endsWith(".map") && e.name !== "README.md")
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const modules = await Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(file);
      return { path: relative(outDir, file), bytes: bytes.byteLength, gzip: gzipSync(bytes, { level: 9 }).byteLength };
    }),
  );
  const sum = (key: "bytes" | "gzip") => modules.reduce((total, m) => total + m[key], 0);
  return { outDir, modules, bytes: sum("bytes"), gzip: sum("gzip"), wranglerTotal: output.match(/Total Upload:.*$/m)?.[0]?.trim() };
}

/** The bundle's table, one module a line, then the total against the limit. */
export function bundleLines(bundle: Bundle): string[] {
  const width = Math.max(8, ...bundle.modules.map((m) => m.path.length));
  return [
    ...bundle.modules.map((m) => `  ${m.path.padEnd(width)} ${mib(m.bytes).padStart(10)}  gzip ${mib(m.gzip).padStart(10)}`),
    `  ${"total".padEnd(width)} ${mib(bundle.bytes).padStart(10)}  gzip ${mib(bundle.gzip).padStart(10)}   (limit ${mib(LIMIT_BYTES)} compressed)`,
    ...(bundle.wranglerTotal ? [`  wrangler: ${bundle.wranglerTotal}`] : []),
  ];
}

/** Throws when the bundle could not be deployed: a model file in it, or above the size limit. */
export function checkBundle(bundle: Bundle, name: string): void {
  const models = bundle.modules.filter((m) => MODEL_FILE.test(m.path));
  if (models.length > 0) throw new Error(`${name}: model files are in the bundle: ${models.map((m) => m.path).join(", ")} (serve them from R2 or static assets)`);
  if (bundle.gzip > LIMIT_BYTES) throw new Error(`${name}: the bundle is ${mib(bundle.gzip)} compressed, above the ${mib(LIMIT_BYTES)} Workers limit`);
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolvePromise(output) : reject(new Error(`wrangler ${args.join(" ")} exited with ${code}:\n${output.trim().slice(-3000)}`))));
  });
}
