// `npm install` runs this: builds the small synthetic model that `npm run dev` serves by default
// (model/dev/tiny-int8), so a fresh clone works offline. Random weights: the text is gibberish.
// Converted like any int8 model: the graph from inputs_embeds to hidden_states plus embedding.int8
// for the engine's LM-head kernel (the converter's int8 default).
// Skips the work when the model is already there and was built from the same settings.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { convertCheckpoint } from "./convert/index";
import { converterStamp } from "./lib/converter-stamp";
import { writeSyntheticCheckpoint } from "./synth/index";

const root = path.resolve(import.meta.dirname, "..");
const checkpointDir = path.join(root, ".cache/dev-checkpoint");
const outDir = path.join(root, "model/dev/tiny-int8");
const NAME = "synthetic-tiny-int8 (random weights)";
const SHAPE = { layers: 2, embd: 64, heads: 4, seed: 1 };

// The model is rebuilt whenever the converter or the synthesizer changed (a pulled commit may
// change the graph), not only when it is missing.
const stampFile = path.join(outDir, "built-from.sha256");

const stamp = createHash("sha256").update(JSON.stringify({ NAME, SHAPE })).update(converterStamp()).digest("hex");
const upToDate = existsSync(path.join(outDir, "manifest.json")) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp;

if (upToDate) {
  console.log(`dev model: ${path.relative(root, outDir)} is up to date`);
} else {
  await rm(checkpointDir, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ ...SHAPE, outDir: checkpointDir });
  const manifest = await convertCheckpoint(checkpointDir, { dtype: "int8", outDir, name: NAME });
  await writeFile(stampFile, stamp);
  const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  console.log(`dev model: wrote ${path.relative(root, outDir)} (${(bytes / 1e6).toFixed(1)} MB, random weights: gibberish output)`);
}
