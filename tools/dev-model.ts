// `npm install` runs this: builds the small synthetic model that `npm run dev` serves by default
// (model/dev/tiny-int8), so a fresh clone works offline. Random weights: the text is gibberish.
// Skips the work when the model is already there and was built from the same settings.
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { convertCheckpoint } from "./convert/index";
import { writeSyntheticCheckpoint } from "./synth/index";

const root = path.resolve(import.meta.dirname, "..");
const checkpointDir = path.join(root, ".cache/dev-checkpoint");
const outDir = path.join(root, "model/dev/tiny-int8");
const NAME = "synthetic-tiny-int8 (random weights)";
const SHAPE = { layers: 2, embd: 64, heads: 4, seed: 1 };

function upToDate(): boolean {
  const manifestFile = path.join(outDir, "manifest.json");
  if (!existsSync(manifestFile)) return false;
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
    return manifest.name === NAME && manifest.architecture?.n_layer === SHAPE.layers && manifest.architecture?.n_embd === SHAPE.embd;
  } catch {
    return false;
  }
}

if (upToDate()) {
  console.log(`dev model: ${path.relative(root, outDir)} is up to date`);
} else {
  await rm(checkpointDir, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ ...SHAPE, outDir: checkpointDir });
  const manifest = await convertCheckpoint(checkpointDir, { dtype: "int8", outDir, name: NAME });
  const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  console.log(`dev model: wrote ${path.relative(root, outDir)} (${(bytes / 1e6).toFixed(1)} MB, random weights: gibberish output)`);
}
