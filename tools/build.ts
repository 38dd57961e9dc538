// npm run build: bundles the Worker exactly as `wrangler deploy` would (a dry run, written to dist/),
// prints every uploaded module with its gzip size, and fails when the compressed total is above
// the Workers limit (10 MiB on the paid plan) or when a model file slipped into the bundle (models
// belong in R2 or static assets, never in the script).
import { spawn } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const root = resolve(import.meta.dirname, "..");
const outDir = join(root, "dist");
export const LIMIT_BYTES = 10 * 1024 * 1024;
const MODEL_FILE = /\.(onnx|onnx\.data|onnx_data(_\d+)?|safetensors)$/;

async function main(): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  const output = await run(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outDir]);
  const files = (await readdir(outDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.endsWith(".map") && e.name !== "README.md")
    .map((e) => join(e.parentPath, e.name));
  let raw = 0;
  let gzip = 0;
  const rows: string[] = [];
  const width = Math.max(8, ...files.map((f) => relative(outDir, f).length));
  for (const file of files.sort()) {
    const bytes = await readFile(file);
    const compressed = gzipSync(bytes, { level: 9 }).byteLength;
    raw += bytes.byteLength;
    gzip += compressed;
    rows.push(`  ${relative(outDir, file).padEnd(width)} ${mib(bytes.byteLength).padStart(10)}  gzip ${mib(compressed).padStart(10)}`);
  }
  console.log(`bundle (wrangler deploy --dry-run → ${relative(root, outDir)}/):`);
  for (const row of rows) console.log(row);
  console.log(`  ${"total".padEnd(width)} ${mib(raw).padStart(10)}  gzip ${mib(gzip).padStart(10)}   (limit ${mib(LIMIT_BYTES)} compressed)`);
  const wranglerTotal = output.match(/Total Upload:.*$/m)?.[0];
  if (wranglerTotal) console.log(`  wrangler: ${wranglerTotal.trim()}`);

  const models = files.filter((f) => MODEL_FILE.test(f));
  if (models.length > 0) throw new Error(`model files are in the bundle: ${models.map((f) => relative(outDir, f)).join(", ")} (serve them from R2 or static assets)`);
  if (gzip > LIMIT_BYTES) throw new Error(`the bundle is ${mib(gzip)} compressed, above the ${mib(LIMIT_BYTES)} Workers limit`);
  console.log(`ok: ${mib(gzip)} compressed, ${((100 * gzip) / LIMIT_BYTES).toFixed(0)}% of the limit; model files are not in the bundle`);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolvePromise(output) : reject(new Error(`wrangler ${args.join(" ")} exited with ${code}:\n${output.trim().slice(-3000)}`))));
  });
}

main().catch((e: unknown) => {
  console.error(`build failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
