// `model:synth --outliers` builds what it claims: the matmul inputs carry a few channels far above
// the rest (measured with the independent fp32 forward), where the plain checkpoint of the same
// seed has none, and the ordinary weights are the plain checkpoint's.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { DEFAULT_OUTLIERS } from "../../tools/synth/outliers.js";
import { hfForward, loadHfModel } from "./hf-forward.js";
import { seededTokens } from "./int8-metrics.js";
import { CACHE_DIR } from "./reference.js";

const SHAPE = { layers: 2, embd: 64, heads: 4, seed: 9, positions: 32 };

/** Per linear kind, the smallest max/median |input| over layers and positions' pooled values. */
function inputSpread(dir: string): Record<string, number> {
  const spread: Record<string, number> = {};
  hfForward(loadHfModel(dir), seededTokens(24, 50257, 3), {
    lastOnly: true,
    observe(name, x) {
      if (name.startsWith("h.0.")) return; // the massive residual dims appear after layer 0's MLP
      const sorted = Float64Array.from(x, Math.abs).sort();
      const kind = name.replace(/^h\.\d+\./, "");
      spread[kind] = Math.min(spread[kind] ?? Infinity, sorted[sorted.length - 1] / sorted[sorted.length >> 1]);
    },
  });
  return spread;
}

describe("synthetic checkpoints with activation outliers", () => {
  it("have c_attn / c_fc inputs with max/median ≳ 20 and MLP c_proj inputs ≳ 100; the plain one does not (5× less there)", async () => {
    await writeSyntheticCheckpoint({ ...SHAPE, outDir: `${CACHE_DIR}synth-outliers/plain` });
    await writeSyntheticCheckpoint({ ...SHAPE, outDir: `${CACHE_DIR}synth-outliers/outliers`, outliers: DEFAULT_OUTLIERS });
    const plain = inputSpread(`${CACHE_DIR}synth-outliers/plain`);
    const outliers = inputSpread(`${CACHE_DIR}synth-outliers/outliers`);
    for (const kind of ["attn.c_attn", "mlp.c_fc"]) {
      expect(outliers[kind], kind).toBeGreaterThan(20);
      expect(plain[kind], kind).toBeLessThan(10);
    }
    // GELU outputs are skewed (most near 0), so even the plain checkpoint's spread is ~30×.
    expect(outliers["mlp.c_proj"]).toBeGreaterThan(100);
    expect(outliers["mlp.c_proj"]).toBeGreaterThan(5 * plain["mlp.c_proj"]);
  });

  it("keep the plain checkpoint's token embedding and are reproducible from the seed", async () => {
    const read = (dir: string) => loadHfModel(`${CACHE_DIR}synth-outliers/${dir}`).tensor("wte.weight");
    expect(read("outliers")).toEqual(read("plain"));
    await writeSyntheticCheckpoint({ ...SHAPE, outDir: `${CACHE_DIR}synth-outliers/again`, outliers: DEFAULT_OUTLIERS });
    const bytes = (dir: string) => readFileSync(`${CACHE_DIR}synth-outliers/${dir}/model.safetensors`);
    expect(bytes("again").equals(bytes("outliers"))).toBe(true);
  });
});
