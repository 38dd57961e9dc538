// `mlp: "kernel"` (the int8 default where it fits): the converter cuts the model around each
// block's MLP (tools/convert/layer-graphs.ts) and writes the MLPs' int8 weights as mlp.int8 for the
// engine's kernel. Numbers are checked end to end in workerd (test/worker/mlp-kernel.test.ts,
// lm-head.test.ts); here: the folder's layout, the MLP file's contents, the choices and refusals.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ModelManifest } from "../../src/model/manifest.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { mlpLinearBytes } from "../../tools/convert/mlp-file.js";
import { decodeModel } from "../../tools/convert/onnx-schema.js";
import { CACHE_DIR, REFERENCE_DIR } from "./reference.js";

const SOURCE = `${REFERENCE_DIR}/tiny-a`;
const manifestOf = async (dir: string) => JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
const graphNames = async (dir: string, file: string) => {
  const graph = decodeModel(new Uint8Array(await readFile(join(dir, file)))).graph as { input: { name: string }[]; output: { name: string }[] };
  return { inputs: graph.input.map((i) => i.name), outputs: graph.output.map((o) => o.name) };
};

describe("int8 conversion with the MLPs in the kernel", () => {
  it("writes one graph per block up to ln_2, ln_f's graph, and the MLP file the manifest describes", async () => {
    const dir = `${CACHE_DIR}tiny-a-int8-mlp-kernel`;
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir });
    const manifest = await manifestOf(dir);
    const { n_layer: L, n_embd: E } = manifest.architecture;
    const graphs = manifest.files.filter((f) => f.role === "graph").map((f) => f.path);
    expect(graphs).toEqual(Array.from({ length: L + 1 }, (_, i) => `layer-${String(i).padStart(2, "0")}.onnx`));
    expect(manifest.files.filter((f) => f.role === "weights").map((f) => f.path)).toEqual(graphs.map((g) => `${g}.data`));
    expect((await readdir(dir)).filter((f) => f.startsWith("model.onnx"))).toEqual([]);

    expect(await graphNames(dir, graphs[0])).toEqual({
      inputs: ["inputs_embeds", "position_ids", "attention_mask", "past_key_values.0.key", "past_key_values.0.value"],
      outputs: ["mlp_in", "residual_out", "present.0.key", "present.0.value", "new_key_values.0.key", "new_key_values.0.value"],
    });
    expect((await graphNames(dir, graphs[1])).inputs.slice(0, 2)).toEqual(["residual_in", "addend_in"]);
    expect(await graphNames(dir, graphs[L])).toEqual({ inputs: ["residual_in", "addend_in"], outputs: ["hidden_states"] });
    // No MLP weights left in any graph.
    for (const graph of graphs) {
      const initializers = (decodeModel(new Uint8Array(await readFile(join(dir, graph)))).graph as { initializer: { name: string }[] }).initializer;
      expect(initializers.filter((i) => i.name.includes(".mlp.")), graph).toEqual([]);
    }

    const inner = manifest.mlp!.inner;
    expect(inner).toBe(4 * E);
    const mlp = manifest.files.find((f) => f.role === "mlp")!;
    const expected = manifest.mlp!.outliers.reduce((sum, o) => sum + mlpLinearBytes(E, inner, o.fc.length) + mlpLinearBytes(inner, E, o.proj.length), 0);
    expect(mlp.bytes).toBe(expected);
    expect((await readFile(join(dir, mlp.path))).byteLength).toBe(expected);
    expect(manifest.io.inputs[0]).toBe("inputs_embeds");
    expect(manifest.io.outputs[0]).toBe("hidden_states");
  });

  it("keeps the MLPs in the graph with mlp \"graph\", and leaves no stale files either way", async () => {
    const dir = `${CACHE_DIR}tiny-a-int8-mlp-reconverted`;
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir });
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir, mlp: "graph" });
    expect((await readdir(dir)).sort()).toEqual(["embedding.int8", "manifest.json", "model.onnx", "model.onnx.data"]);
    expect((await manifestOf(dir)).mlp).toBeUndefined();
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir });
    const files = await readdir(dir);
    expect(files.filter((f) => f.startsWith("model.onnx"))).toEqual([]);
    expect(files).toContain("mlp.int8");
    // Sharded: the front holds no graph; each shard holds its blocks' graphs (ln_f's on the last)
    // and its blocks' MLPs, or with mlp "graph" its one graph.
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir, shards: { count: 2 } });
    expect((await readdir(dir)).filter((f) => f.startsWith("layer-") || f.startsWith("mlp"))).toEqual([]);
    const L = (await manifestOf(dir)).architecture.n_layer;
    const shard0 = await manifestOf(join(dir, "shard-0"));
    const shard1 = await manifestOf(join(dir, "shard-1"));
    const [from, to] = shard1.shard!.layers;
    expect(shard0.files.filter((f) => f.role === "graph").length).toBe(shard0.shard!.layers[1]);
    expect(shard1.files.filter((f) => f.role === "graph").map((f) => f.path).at(-1)).toBe(`layer-${String(L).padStart(2, "0")}.onnx`);
    expect(shard1.mlp!.outliers).toHaveLength(to - from);
    expect((await readdir(join(dir, "shard-1"))).filter((f) => f.startsWith("model.onnx"))).toEqual([]);
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir, shards: { count: 2 }, mlp: "graph" });
    expect((await readdir(join(dir, "shard-1"))).sort()).toEqual(["manifest.json", "model.onnx", "model.onnx.data"]);
  });

  it("stays one graph where the kernel does not fit, and refuses to force it there", async () => {
    const dir = `${CACHE_DIR}tiny-a-int8-mlp-graph-embedding`;
    await convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir, embedding: "graph" });
    expect((await manifestOf(dir)).mlp).toBeUndefined();
    await expect(convertCheckpoint(SOURCE, { dtype: "int8", outDir: dir, embedding: "graph", mlp: "kernel" })).rejects.toThrow(/mlp "kernel" needs the int8 external embedding/);
    await expect(convertCheckpoint(SOURCE, { dtype: "fp32", outDir: `${CACHE_DIR}unused`, mlp: "kernel" })).rejects.toThrow(/mlp "kernel" needs/);
  });
});
