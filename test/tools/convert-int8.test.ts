// int8 accuracy vs fp32 under teacher forcing, against the README yardstick. The README's random
// tokens cannot be reproduced (torch RNG), so random-token figures are also compared with the
// yardstick scheme rebuilt here (absmax weights, single-pass per-tensor activations) on the same tokens.
import { beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { seededTokens, teacherForcedAgreement, type Int8Figures } from "./int8-metrics.js";
import { loadModel, type LoadedModel } from "./ort-runner.js";
import { CACHE_DIR, CHECKPOINTS, REFERENCE_DIR, VOCAB, fixtures } from "./reference.js";

// README "int8 accuracy yardstick": [top-1, mean KL] for continuation / random tokens.
const YARDSTICK = {
  "tiny-a": { continuation: [0.923, 0.003], random: [0.945, 0.0043] },
  "tiny-b": { continuation: [0.923, 0.0102], random: [0.895, 0.0124] },
} as const;
const RANDOM_SEEDS = [1, 2, 3, 4];

async function randomFigures(fp32: LoadedModel, int8: LoadedModel): Promise<Int8Figures> {
  let top1 = 0;
  let kl = 0;
  for (const seed of RANDOM_SEEDS) {
    const r = await teacherForcedAgreement(fp32, int8, seededTokens(200, VOCAB, seed));
    top1 += r.top1Agreement / RANDOM_SEEDS.length;
    kl += r.meanKL / RANDOM_SEEDS.length;
  }
  return { positions: 200 * RANDOM_SEEDS.length, top1Agreement: top1, meanKL: kl };
}

const fmt = (f: Int8Figures) => `${f.top1Agreement.toFixed(3)} / ${f.meanKL.toFixed(4)}`;

describe.each(CHECKPOINTS)("int8 %s", (name) => {
  const models: Record<string, LoadedModel> = {};

  beforeAll(async () => {
    const src = `${REFERENCE_DIR}/${name}`;
    await convertCheckpoint(src, { dtype: "fp32", outDir: `${CACHE_DIR}${name}-fp32`, logits: "all" });
    // The one-graph layout, so onnxruntime alone runs the whole model (the default int8 layout's
    // LM-head kernel gives these logits bit for bit: convert-embedding.test.ts).
    await convertCheckpoint(src, { dtype: "int8", outDir: `${CACHE_DIR}${name}-int8`, logits: "all", embedding: "graph" });
    await convertCheckpoint(src, {
      dtype: "int8",
      embedding: "graph",
      outDir: `${CACHE_DIR}${name}-int8-yardstick`,
      int8: { clipping: "absmax", activations: "per-tensor", twoPass: () => false },
      logits: "all",
    });
    for (const kind of ["fp32", "int8", "int8-yardstick"]) models[kind] = await loadModel(`${CACHE_DIR}${name}-${kind}`);
  }, 120_000); // three conversions, each with a calibration pass

  it("is at least as accurate as the README yardstick", async () => {
    const { fp32, int8 } = models;
    const y = YARDSTICK[name];
    const continuation = await teacherForcedAgreement(fp32, int8, fixtures(name).prompts[1].greedy_max_new_tokens_20);
    const random = await randomFigures(fp32, int8);
    const sameTokensYardstick = await randomFigures(fp32, models["int8-yardstick"]);
    console.log(
      `${name} int8 top-1 / mean KL — continuation ${fmt(continuation)} (README ${y.continuation.join(" / ")}); ` +
        `random ${fmt(random)} (README ${y.random.join(" / ")}; yardstick scheme on the same tokens ${fmt(sameTokensYardstick)})`,
    );
    expect(continuation.top1Agreement).toBeGreaterThanOrEqual(y.continuation[0]);
    expect(continuation.meanKL).toBeLessThanOrEqual(y.continuation[1]);
    expect(random.meanKL).toBeLessThanOrEqual(y.random[1]);
    expect(random.meanKL).toBeLessThanOrEqual(sameTokensYardstick.meanKL);
    expect(random.top1Agreement).toBeGreaterThanOrEqual(sameTokensYardstick.top1Agreement);
  });

  it("stores int8 weights at about a quarter of the fp32 size", async () => {
    const bytes = (m: LoadedModel) => m.manifest.files.find((f) => f.role === "weights")!.bytes;
    expect(bytes(models.int8)).toBeLessThan(0.3 * bytes(models.fp32));
  });
});
