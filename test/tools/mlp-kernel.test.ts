// The MLP kernel (src/engine/lm-head/mlp.ts) against onnxruntime-web running the converter's own
// MLP nodes — int8Format's c_fc, FastGelu, int8Format's c_proj, as gpt2-graph.ts addBlocks builds
// them — bit for bit, with and without fp32 outlier channels, the weights going through the MLP
// file the converter writes (tools/convert/mlp-file.ts).
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { MlpKernel } from "../../src/engine/lm-head/mlp.js";
import { lmHeadModuleFromDisk, randomFloats } from "../../tools/bench/lm-head-onnx.js";
import { MS_DOMAIN } from "../../tools/convert/gpt2-graph.js";
import { GraphBuilder, valueInfoProto } from "../../tools/convert/graph-builder.js";
import { int8Format } from "../../tools/convert/int8-format.js";
import { encodeMlpFile, type MlpLinear } from "../../tools/convert/mlp-file.js";
import { DataType, encodeModel } from "../../tools/convert/onnx-schema.js";

ort.env.wasm.numThreads = 1;
const module = await lmHeadModuleFromDisk();

type Outliers = { fc: number[]; proj: number[] }[];

/**
 * `layers` MLPs side by side in one ONNX model (input x_l → output y_l, each layer its own
 * weights), and the same weights as the MLP file. Magnitudes roughly GPT-2's: c_fc weights ±0.25,
 * c_proj ±0.1, biases ±0.5 and — on the c_proj outlier channels — a c_fc bias of +8, so FastGelu
 * hands those channels large values as GPT-2's MLP outlier channels do.
 */
function mlpModels(layers: number, E: number, I: number, outliers: Outliers | null) {
  const channels = new Map<string, number[]>();
  outliers?.forEach((o, l) => {
    channels.set(`h.${l}.mlp.c_fc`, o.fc);
    channels.set(`h.${l}.mlp.c_proj`, o.proj);
  });
  // The same options as the converter's int8 (mse clipping, per-row activations); the token
  // table is unused here.
  const format = int8Format(new Float32Array(16 * 16), 16, 16, { outlierChannels: channels });
  const g = new GraphBuilder();
  const file: { fc: MlpLinear; proj: MlpLinear }[] = [];
  for (let l = 0; l < layers; l++) {
    const fcWeights = randomFloats(E * I, 100 + l, 0.25);
    const fcBias = randomFloats(I, 200 + l, 0.5);
    for (const k of outliers?.[l].proj ?? []) fcBias[k] = 8;
    const projWeights = randomFloats(I * E, 300 + l, 0.1);
    const projBias = randomFloats(E, 400 + l, 0.5);
    const x = g.input({ name: `x${l}`, elemType: DataType.FLOAT, dims: ["M", E] });
    const fc = format.linear(g, x, `h.${l}.mlp.c_fc`, fcWeights, fcBias, E, I);
    const act = g.op1("FastGelu", [fc], {}, { domain: MS_DOMAIN });
    const y = format.linear(g, act, `h.${l}.mlp.c_proj`, projWeights, projBias, I, E);
    g.op1("Identity", [y], {}, { outputs: [`y${l}`] });
    g.output({ name: `y${l}`, elemType: DataType.FLOAT, dims: ["M", E] });
    file.push({
      fc: { ...format.quantizeLinear(`h.${l}.mlp.c_fc`, fcWeights, E, I), bias: fcBias },
      proj: { ...format.quantizeLinear(`h.${l}.mlp.c_proj`, projWeights, I, E), bias: projBias },
    });
  }
  return { model: modelBytes(g, "int8-mlps"), file: encodeMlpFile(file, E, I) };
}

function modelBytes(g: GraphBuilder, name: string): Uint8Array {
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: "", version: 17 }, { domain: MS_DOMAIN, version: 1 }],
    producer_name: "edge-gpt2-test",
    graph: {
      name,
      node: g.nodes,
      initializer: g.initializers.map((i) => ({ name: i.name, data_type: i.dataType, dims: i.dims, raw_data: i.raw })),
      input: g.inputs.map(valueInfoProto),
      output: g.outputs.map(valueInfoProto),
    },
  });
}

/** Activations with GPT-2's awkward cases: a few large values, huge outlier channels, an all-zero row. */
function activations(rows: number, E: number, seed: number, outlierChannels: number[]): Float32Array {
  const x = randomFloats(rows * E, seed, 2);
  for (let m = 0; m < rows; m++) {
    x[m * E + ((m * 37 + 11) % E)] = 30 - m; // one large ordinary activation per row
    for (const [j, k] of outlierChannels.entries()) x[m * E + k] = (j % 2 ? -1 : 1) * (150 + 10 * m);
  }
  if (rows > 2) x.fill(0, 2 * E, 3 * E);
  return x;
}

/** "equal", or the first element whose bits differ. */
function compareExactBits(actual: Float32Array, expected: Float32Array): string {
  if (actual.length !== expected.length) return `length ${actual.length} vs ${expected.length}`;
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `first difference at ${i}: ${actual[i]} vs ${expected[i]}`;
  return "equal";
}

/** Each kernel (one per maxRows) against onnxruntime; undefined: the default maxRows. */
async function check(E: number, I: number, outliers: Outliers | null, rowCounts: number[], maxRowsEach: (number | undefined)[] = [undefined]) {
  const layers = 2;
  const { model, file } = mlpModels(layers, E, I, outliers);
  const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all", enableCpuMemArena: true });
  const kernels = [];
  for (const maxRows of maxRowsEach) {
    const kernel = await MlpKernel.create(module, { layers, hidden: E, inner: I, outliers: outliers ?? [{ fc: [], proj: [] }, { fc: [], proj: [] }], maxRows });
    expect(kernel.fileBytes).toBe(file.length);
    kernel.file.set(file);
    kernels.push(kernel);
  }
  for (const rows of rowCounts) {
    const feeds: Record<string, ort.Tensor> = {};
    const inputs = Array.from({ length: layers }, (_, l) => activations(rows, E, 1000 * l + rows, outliers?.[l].fc ?? []));
    inputs.forEach((x, l) => (feeds[`x${l}`] = new ort.Tensor("float32", x, [rows, E])));
    const out = await session.run(feeds);
    for (const kernel of kernels) {
      for (let l = 0; l < layers; l++) {
        const what = `layer ${l}, ${rows} rows, ${kernel.maxRows} per pass`;
        expect(compareExactBits(kernel.forward(l, inputs[l]), out[`y${l}`].data as Float32Array), what).toBe("equal");
      }
    }
  }
}

describe("the kernel's FastGelu against onnxruntime's", () => {
  it("gives the same bits over [-12, 12] in fine steps, random values and extremes", async () => {
    // Every float in fine steps where FastGelu bends, then random ones, then values whose
    // intermediate t overflows or underflows (the tanh clamp, a -0 result, subnormals).
    const fine = Array.from({ length: 4096 * 40 }, (_, i) => -12 + (24 * i) / (4096 * 40));
    const extremes = [0, -0, 1e-40, -1e-40, 1e-20, -1e-20, 4.5, -4.5, 1e20, -1e20, 3.4e38, -3.4e38];
    const x = Float32Array.from([...fine, ...randomFloats(4096 * 8 - extremes.length, 9, 30), ...extremes]);
    const g = new GraphBuilder();
    const input = g.input({ name: "x", elemType: DataType.FLOAT, dims: [x.length] });
    g.op1("FastGelu", [input], {}, { domain: MS_DOMAIN, outputs: ["y"] });
    g.output({ name: "y", elemType: DataType.FLOAT, dims: [x.length] });
    const session = await ort.InferenceSession.create(modelBytes(g, "fast-gelu"), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const expected = (await session.run({ x: new ort.Tensor("float32", x, [x.length]) })).y.data as Float32Array;
    // The export itself, on a memory of our own.
    const memory = new WebAssembly.Memory({ initial: Math.ceil(x.byteLength / 65536), maximum: Math.ceil(x.byteLength / 65536) });
    const instance = (await WebAssembly.instantiate(module, { env: { memory } })) as unknown as WebAssembly.Instance;
    new Float32Array(memory.buffer, 0, x.length).set(x);
    (instance.exports as unknown as { fast_gelu(x: number, count: number): void }).fast_gelu(0, x.length);
    expect(compareExactBits(new Float32Array(memory.buffer, 0, x.length), expected)).toBe("equal");
  });
});

describe("MLP kernel against onnxruntime-web running the converter's int8 MLP", () => {
  const small = Array.from({ length: 9 }, (_, i) => i + 1).concat(33);
  const smallOutliers: Outliers = [
    { fc: [3, 40], proj: [7, 100, 255] },
    { fc: [63], proj: [0] },
  ];

  // Passes of 8 rows (in chunks, `matmul` only), and of up to 64 (33 rows: `matmul_wide`, odd row).
  it("matches bit for bit at E = 64, I = 256, 1 to 9 and 33 rows, 8 or 64 rows per pass", async () => {
    await check(64, 256, null, small, [8, undefined]);
  });

  it("matches bit for bit with fp32 outlier channels (c_fc and c_proj), 1 to 9 and 33 rows, 8 or 64 rows per pass", async () => {
    await check(64, 256, smallOutliers, small, [8, undefined]);
  });

  it("matches bit for bit at GPT-2's shape (768 → 3072 → 768), with and without outliers", async () => {
    await check(768, 3072, null, [1, 4, 67]);
    await check(768, 3072, [{ fc: [138, 378, 447], proj: [1000, 2500] }, { fc: [], proj: [3071] }], [1, 3, 70]);
  });

  it("rejects shapes it cannot run", async () => {
    const none = [{ fc: [], proj: [] }];
    await expect(MlpKernel.create(module, { layers: 1, hidden: 40, inner: 256, outliers: none })).rejects.toThrow(/hidden must be a positive multiple of 16/);
    await expect(MlpKernel.create(module, { layers: 1, hidden: 64, inner: 250, outliers: none })).rejects.toThrow(/inner must be a positive multiple of 16/);
    await expect(MlpKernel.create(module, { layers: 2, hidden: 64, inner: 256, outliers: none })).rejects.toThrow(/outliers lists 1 layers/);
    await expect(MlpKernel.create(module, { layers: 1, hidden: 64, inner: 256, outliers: [{ fc: [64], proj: [] }] })).rejects.toThrow(/outside \[0, 64\)/);
    await expect(MlpKernel.create(module, { layers: 1, hidden: 64, inner: 256, outliers: [{ fc: [], proj: [5, 5] }] })).rejects.toThrow(/listed twice/);
    const kernel = await MlpKernel.create(module, { layers: 1, hidden: 64, inner: 256, outliers: none });
    expect(() => kernel.forward(1, new Float32Array(64))).toThrow(/layer 1 is outside/);
    expect(() => kernel.forward(0, new Float32Array(65))).toThrow(/not a multiple of 64/);
  });

  it("holds the file and a maxRows workspace (plus matmul_wide's scratch) in memory sized for them", async () => {
    const kernel = await MlpKernel.create(module, { layers: 12, hidden: 768, inner: 3072, outliers: Array.from({ length: 12 }, () => ({ fc: [1, 2], proj: [] })), maxRows: 16 });
    const file = 12 * (2 * 768 * 3072 + 4 * (3072 + 768) * 2 + 4 * 2 * 3072);
    expect(kernel.fileBytes).toBe(file);
    const needed = file + 16 * (768 * 4 + 3072 * 6 + 4 + 2 * 4) + 8 * 3072;
    expect(kernel.memoryBytes).toBeGreaterThanOrEqual(needed);
    expect(kernel.memoryBytes - needed).toBeLessThan(65536 + 1024);
  });
});
