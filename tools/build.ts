// npm run build: bundles the Worker exactly as `wrangler deploy` would (a dry run, written to dist/),
// prints every uploaded module with its gzip size, and fails when the compressed total is above
// the Workers limit (10 MiB on the paid plan) or when a model file slipped into the bundle (models
// belong in R2 or static assets, never in the script).
import { join, relative, resolve } from "node:path";
import { bundleLines, bundleWorker, checkBundle, LIMIT_BYTES, mib } from "./lib/bundle.js";

const root = resolve(import.meta.dirname, "..");

async function main(): Promise<void> {
  const bundle = await bundleWorker(null, join(root, "dist"));
  console.log(`bundle (wrangler deploy --dry-run → ${relative(root, bundle.outDir)}/):`);
  for (const line of bundleLines(bundle)) console.log(line);
  checkBundle(bundle, "the Worker");
  console.log(`ok: ${mib(bundle.gzip)} compressed, ${((100 * bundle.gzip) / LIMIT_BYTES).toFixed(0)}% of the limit; model files are not in the bundle`);
}

main().catch((e: unknown) => {
  console.error(`build failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
