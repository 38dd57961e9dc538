// What a converted model was built from: a hash of every file of the converter, the synthesizer
// and their shared helpers (the calibration corpus included: it changes int8 files). A model whose
// stamp differs is rebuilt (the dev model, the benchmark's models), so a pulled commit that changes
// the graph never leaves a stale model behind.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const TOOLS = path.resolve(import.meta.dirname, "..");

export function converterStamp(): string {
  const hash = createHash("sha256");
  for (const dir of ["convert", "synth", "lib"]) {
    const folder = path.join(TOOLS, dir);
    for (const file of readdirSync(folder, { recursive: true }).map(String).sort()) {
      const full = path.join(folder, file);
      if (statSync(full).isFile()) hash.update(`${dir}/${file}`).update(readFileSync(full));
    }
  }
  return hash.digest("hex");
}
