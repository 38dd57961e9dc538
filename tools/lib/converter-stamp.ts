// What a converted model was built from: a hash of every file of the converter and the
// synthesizer (the calibration corpus included: it changes int8 files) and of every module they
// import, followed through relative imports (tools/lib helpers, the project's tokenizer and
// manifest types under src/). A model whose stamp differs is rebuilt (the dev model, the
// benchmark's models), so a pulled commit that changes the graph never leaves a stale model
// behind — and a change to a bench-only helper does not reconvert every model.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const TOOLS = path.resolve(import.meta.dirname, "..");
const ROOTS = ["convert", "synth"];
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

export function converterStamp(): string {
  const hash = createHash("sha256");
  const root = path.resolve(TOOLS, "..");
  for (const file of converterInputs()) hash.update(path.relative(root, file)).update(readFileSync(file));
  return hash.digest("hex");
}

/** Every file the stamp hashes (absolute paths, sorted). */
export function converterInputs(): string[] {
  const files = new Set<string>();
  const pending: string[] = [];
  for (const dir of ROOTS) {
    const folder = path.join(TOOLS, dir);
    for (const file of readdirSync(folder, { recursive: true }).map(String)) {
      const full = path.join(folder, file);
      if (statSync(full).isFile()) pending.push(full);
    }
  }
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!/\.[cm]?[jt]s$/.test(file)) continue;
    for (const [, specifier] of readFileSync(file, "utf8").matchAll(RELATIVE_IMPORT)) {
      const target = resolveModule(path.resolve(path.dirname(file), specifier));
      if (target) pending.push(target);
    }
  }
  return [...files].sort();
}

/** The source file an import specifier names (TypeScript's `.js` → `.ts`), or null (a JSON or asset import is hashed as is). */
function resolveModule(base: string): string | null {
  const candidates = [base, base.replace(/\.js$/, ".ts"), `${base}.ts`, path.join(base, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}
