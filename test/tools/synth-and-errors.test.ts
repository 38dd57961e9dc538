// Synthetic checkpoints are deterministic and convertible; malformed checkpoints fail with clear messages.
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeSafetensorsF32, openSafetensors } from "../../tools/lib/safetensors.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { forward, greedy, lastLogits, loadModel } from "./ort-runner.js";
import { CACHE_DIR } from "./reference.js";

const SMALL = { layers: 2, embd: 32, heads: 4, positions: 64, vocab: 500 };

describe("synthetic checkpoints", () => {
  beforeAll(async () => {
    await rm(`${CACHE_DIR}synth`, { recursive: true, force: true });
  });

  it("same seed gives byte-identical files, another seed different weights", async () => {
    await writeSyntheticCheckpoint({ ...SMALL, seed: 7, outDir: `${CACHE_DIR}synth/a` });
    await writeSyntheticCheckpoint({ ...SMALL, seed: 7, outDir: `${CACHE_DIR}synth/b` });
    await writeSyntheticCheckpoint({ ...SMALL, seed: 8, outDir: `${CACHE_DIR}synth/c` });
    const read = (d: string, f: string) => readFile(`${CACHE_DIR}synth/${d}/${f}`);
    expect((await read("a", "model.safetensors")).equals(await read("b", "model.safetensors"))).toBe(true);
    expect((await read("a", "model.safetensors")).equals(await read("c", "model.safetensors"))).toBe(false);
    expect((await read("a", "config.json")).equals(await read("b", "config.json"))).toBe(true);
    const reference = JSON.parse(await readFile("/work/shared/reference/tiny-a/config.json", "utf8"));
    const config = JSON.parse((await read("a", "config.json")).toString());
    expect(Object.keys(config).sort()).toEqual(Object.keys(reference).sort());
    expect((await openSafetensors(`${CACHE_DIR}synth/a/model.safetensors`)).names).toContain("transformer.h.1.mlp.c_fc.weight");
  });

  it.each(["fp32", "int8"] as const)("converts and runs (%s), greedy tokens vary", async (dtype) => {
    const outDir = `${CACHE_DIR}synth/a-${dtype}`;
    // One graph (int8's default puts the embedding outside it, for the engine's kernel): onnxruntime runs it alone here.
    const manifest = await convertCheckpoint(`${CACHE_DIR}synth/a`, { dtype, outDir, name: "synthetic", embedding: "graph" });
    expect(manifest).toMatchObject({ name: "synthetic", dtype, architecture: { n_layer: 2, n_embd: 32, vocab_size: 500 } });
    const model = await loadModel(outDir);
    const tokens = await greedy(model, [1, 2, 3], 12);
    expect(new Set(tokens.slice(3)).size).toBeGreaterThan(3);
    // Past length 0 with batch 2 works and the cache grows as documented.
    const out = await forward(model, [[4, 5], [6, 7]]);
    expect(out.present["present.1.value"].dims).toEqual([2, 4, 2, 8]);
    expect(out.logits.length).toBe(2 * 500); // last position only: [batch, 1, vocab]
    expect(Number.isFinite(lastLogits(out.logits, 2, 500, 1)[0])).toBe(true);
  });
});

describe("malformed checkpoints", () => {
  const dir = `${CACHE_DIR}broken`;
  const convert = () => convertCheckpoint(dir, { dtype: "fp32", outDir: `${dir}-out` });

  beforeAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await writeSyntheticCheckpoint({ ...SMALL, layers: 1, seed: 3, outDir: `${CACHE_DIR}synth/base` });
  });

  const fresh = async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await cp(`${CACHE_DIR}synth/base`, dir, { recursive: true });
  };
  const editConfig = async (edit: (c: Record<string, unknown>) => void) => {
    const config = JSON.parse(await readFile(`${dir}/config.json`, "utf8"));
    edit(config);
    await writeFile(`${dir}/config.json`, JSON.stringify(config));
  };
  const rewriteTensors = async (edit: (t: Array<{ name: string; shape: number[]; data: Float32Array }>) => void) => {
    const file = await openSafetensors(`${dir}/model.safetensors`);
    const tensors = file.names.map((name) => ({ name, shape: file.info(name)!.shape, data: file.readF32(name) }));
    edit(tensors);
    await writeFile(`${dir}/model.safetensors`, encodeSafetensorsF32(tensors));
  };

  it("reports a missing config.json or model.safetensors", async () => {
    await fresh();
    await rm(`${dir}/config.json`);
    await expect(convert()).rejects.toThrow(/missing config\.json/);
    await fresh();
    await rm(`${dir}/model.safetensors`);
    await expect(convert()).rejects.toThrow(/missing model\.safetensors/);
  });

  it("rejects unsupported configurations", async () => {
    await fresh();
    await editConfig((c) => (c.model_type = "llama"));
    await expect(convert()).rejects.toThrow(/model_type is "llama"/);
    await fresh();
    await editConfig((c) => (c.activation_function = "relu"));
    await expect(convert()).rejects.toThrow(/activation_function relu/);
    await fresh();
    await editConfig((c) => (c.scale_attn_by_inverse_layer_idx = true));
    await expect(convert()).rejects.toThrow(/scale_attn_by_inverse_layer_idx/);
  });

  it("reports missing tensors, shape mismatches and an untied lm_head; ignores legacy buffers", async () => {
    await fresh();
    await rewriteTensors((t) => t.splice(t.findIndex((x) => x.name === "transformer.ln_f.bias"), 1));
    await expect(convert()).rejects.toThrow(/missing tensor ln_f\.bias/);
    await fresh();
    await editConfig((c) => (c.n_positions = 128));
    await expect(convert()).rejects.toThrow(/wpe\.weight has shape \[64,32\], expected \[128,32\]/);
    await fresh();
    await rewriteTensors((t) => {
      const wte = t.find((x) => x.name === "transformer.wte.weight")!;
      t.push({ name: "lm_head.weight", shape: wte.shape, data: wte.data.map((v) => v * 2) });
    });
    await expect(convert()).rejects.toThrow(/lm_head\.weight differs/);
    await fresh();
    await rewriteTensors((t) => {
      const wte = t.find((x) => x.name === "transformer.wte.weight")!;
      t.push({ name: "lm_head.weight", shape: wte.shape, data: wte.data.slice() });
      t.push({ name: "transformer.h.0.attn.masked_bias", shape: [], data: new Float32Array([-1e4]) });
      t.push({ name: "transformer.h.0.attn.bias", shape: [1, 1, 4, 4], data: new Float32Array(16).fill(1) });
    });
    await expect(convert()).resolves.toMatchObject({ dtype: "fp32" });
  });
});
