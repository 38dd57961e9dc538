// CLI: npm run model:synth -- --layers 2 --embd 64 --heads 4 --seed 1 --out <dir> [--positions N] [--vocab N] [--unprefixed] [--outliers]
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSyntheticCheckpoint } from "./synth/index.js";
import { DEFAULT_OUTLIERS } from "./synth/outliers.js";

const USAGE =
  "usage: npm run model:synth -- --layers <n> --embd <n> --heads <n> --seed <n> --out <dir> [--positions 1024] [--vocab 50257] [--unprefixed] [--outliers]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      layers: { type: "string" },
      embd: { type: "string" },
      heads: { type: "string" },
      seed: { type: "string", default: "1" },
      out: { type: "string" },
      positions: { type: "string" },
      vocab: { type: "string" },
      unprefixed: { type: "boolean", default: false },
      // GPT-2-like activation outliers (tools/synth/outliers.ts DEFAULT_OUTLIERS), for int8 tests.
      outliers: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  const int = (key: string, v: string | undefined, required = true): number | undefined => {
    if (v === undefined) {
      if (required) throw new Error(`--${key} is required\n${USAGE}`);
      return undefined;
    }
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--${key} must be an integer, got ${v}`);
    return n;
  };
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  const outDir = resolve(values.out);
  await writeSyntheticCheckpoint({
    layers: int("layers", values.layers)!,
    embd: int("embd", values.embd)!,
    heads: int("heads", values.heads)!,
    seed: int("seed", values.seed)!,
    positions: int("positions", values.positions, false),
    vocab: int("vocab", values.vocab, false),
    prefixed: !values.unprefixed,
    outliers: values.outliers ? DEFAULT_OUTLIERS : undefined,
    outDir,
  });
  console.log(`wrote synthetic GPT-2 checkpoint to ${outDir}`);
}

main().catch((e: unknown) => {
  console.error(`model:synth failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
