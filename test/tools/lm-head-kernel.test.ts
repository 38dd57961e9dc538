// The int8 LM-head / embedding kernel (src/engine/lm-head) against a plain JavaScript statement of
// the converted graph's arithmetic, against onnxruntime running the converter's own LM-head nodes,
// and against a converted reference checkpoint's logits — bit for bit everywhere.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { TiedEmbedding } from "../../src/engine/lm-head/index.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import { lmHeadModel, lmHeadModuleFromDisk, quantizeTable, randomFloats, transpose } from "../../tools/bench/lm-head-onnx.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { DataType, decodeModel, encodeModel } from "../../tools/convert/onnx-schema.js";
import { compareBits, fixtures, REFERENCE_DIR } from "./reference.js";

const CACHE_DIR = new URL("../../.cache/test-engine/", import.meta.url).pathname;

ort.env.wasm.numThreads = 1;
const VOCAB = 50257;
const module = await lmHeadModuleFromDisk();

/** The graph's numbers in plain JS (tools/convert/int8-format.ts), one output at a time. */
function referenceLogits(table: Int8Array, scales: Float32Array, x: Float32Array, K: number): Float32Array {
  const f = Math.fround;
  const inverseQmax = f(1 / 127);
  const rows = x.length / K;
  const V = scales.length;
  const out = new Float32Array(rows * V);
  for (let m = 0; m < rows; m++) {
    const row = x.subarray(m * K, (m + 1) * K);
    const rowMax = f(Math.max(...row.map(Math.abs), 1.1754943508222875e-38));
    // QuantizeLinear(x / max, 1/127, zero point 128): round half to even, saturate, minus 128.
    const q = Array.from(row, (v) => Math.min(127, Math.max(-128, roundHalfEven(f(f(v / rowMax) / inverseQmax)))));
    for (let v = 0; v < V; v++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += q[k] * table[v * K + k];
      out[m * V + v] = f(f(f(acc) * f(inverseQmax * scales[v])) * rowMax);
    }
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

async function kernelWith(table: Int8Array, scales: Float32Array, K: number, maxRows?: number): Promise<TiedEmbedding> {
  const kernel = await TiedEmbedding.create(module, { vocab: scales.length, hidden: K, maxRows });
  kernel.table.set(table);
  kernel.scales.set(scales);
  return kernel;
}

/** Rows of hidden states with the awkward cases: all zeros, one huge outlier, tiny values, near-ties. */
function awkwardRows(M: number, K: number, seed: number): Float32Array {
  const x = randomFloats(M * K, seed, 3);
  if (M > 1) x.fill(0, K, 2 * K);
  if (M > 2) x[2 * K + 5] = 4000;
  if (M > 3) x.subarray(3 * K, 4 * K).forEach((v, i, row) => (row[i] = v * 1e-30));
  // max 127 and a value 0.5: x/max/(1/127) lands next to a rounding tie
  if (M > 4) x.subarray(4 * K, 5 * K).forEach((_, i, row) => (row[i] = i === 0 ? 127 : (i % 7) + 0.5));
  return x;
}

describe("lm-head kernel against the plain JS statement of the graph's arithmetic", () => {
  // 37 rows: not a multiple of the kernel's 4-row tile; 48 columns: three 16-column steps.
  const V = 37;
  const K = 48;
  const { table, scales } = quantizeTable(randomFloats(V * K, 11, 0.2), V, K, "mse");

  it("computes exactly the reference logits for 1 to 9 rows", async () => {
    const kernel = await kernelWith(table, scales, K);
    for (let M = 1; M <= 9; M++) {
      const x = awkwardRows(M, K, 20 + M);
      expect(compareBits(kernel.logits(x), referenceLogits(table, scales, x, K)), `M = ${M}`).toBe("equal");
    }
  });

  it("gives a row the same logits alone, in any batch, and when chunked by maxRows", async () => {
    const x = awkwardRows(9, K, 5);
    const wide = await kernelWith(table, scales, K, 16);
    const narrow = await kernelWith(table, scales, K, 2);
    const batched = wide.logits(x);
    expect(compareBits(narrow.logits(x), batched)).toBe("equal");
    for (let m = 0; m < 9; m++) {
      expect(compareBits(wide.logits(x.slice(m * K, (m + 1) * K)), batched.subarray(m * V, (m + 1) * V)), `row ${m}`).toBe("equal");
    }
  });

  it("gathers embedding rows as f32(q) × scale, any number of ids", async () => {
    const kernel = await kernelWith(table, scales, K, 3);
    const ids = [0, 36, 5, 5, 17, 1, 2, 3];
    const expected = ids.flatMap((id) => Array.from(table.subarray(id * K, (id + 1) * K), (q) => Math.fround(q * scales[id])));
    expect(compareBits(kernel.embed(ids), expected)).toBe("equal");
  });

  it("rejects ids outside the vocabulary and shapes it cannot run", async () => {
    const kernel = await kernelWith(table, scales, K);
    expect(() => kernel.embed([37])).toThrow(/outside the vocabulary/);
    expect(() => kernel.embed([-1])).toThrow(/outside the vocabulary/);
    expect(() => kernel.logits(new Float32Array(K + 1))).toThrow(/multiple of 48/);
    await expect(TiedEmbedding.create(module, { vocab: V, hidden: 40 })).rejects.toThrow(/multiple of 16/);
  });

  it("holds the table in memory sized for it: table, scales and an 8-row workspace for a slice of the vocabulary", async () => {
    const kernel = await TiedEmbedding.create(module, { vocab: VOCAB, hidden: 768 });
    const needed = VOCAB * 768 + VOCAB * 4 + 8 * (768 * 6 + 4096 * 4);
    expect(kernel.memoryBytes).toBeGreaterThanOrEqual(needed);
    expect(kernel.memoryBytes - needed).toBeLessThan(65536 + 1024);
  });
});

describe("lm-head kernel against onnxruntime-web running the converter's int8 LM head", () => {
  const K = 64;
  const weights = randomFloats(VOCAB * K, 3, 0.1);
  const { table, scales } = quantizeTable(weights, VOCAB, K, "mse");
  let session: ort.InferenceSession;
  let kernel: TiedEmbedding;

  beforeAll(async () => {
    session = await ort.InferenceSession.create(lmHeadModel(weights, VOCAB, K, "mse"), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    kernel = await kernelWith(table, scales, K);
  }, 120_000);

  it("matches onnxruntime's logits and embeddings bit for bit, 1 to 11 rows", async () => {
    const ids = [0, 1, 50256, 12345, 777, 1, 0];
    for (const M of [1, 2, 3, 4, 5, 8, 11]) {
      const x = awkwardRows(M, K, 100 + M);
      const out = await session.run({
        hidden: new ort.Tensor("float32", x, [M, K]),
        input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]),
      });
      expect(compareBits(kernel.logits(x), out.logits.data as Float32Array), `M = ${M}`).toBe("equal");
      expect(compareBits(kernel.embed(ids), out.embeddings.data as Float32Array)).toBe("equal");
    }
  });
});

describe("lm-head kernel against a converted reference checkpoint (tiny-b int8, logits at every position)", () => {
  let model: ExposedModel;
  let kernel: TiedEmbedding;

  beforeAll(async () => {
    const outDir = `${CACHE_DIR}tiny-b-int8-all`;
    // The one-graph layout: its LM head is what the kernel is compared with.
    await convertCheckpoint(`${REFERENCE_DIR}/tiny-b`, { dtype: "int8", outDir, logits: "all", embedding: "graph" });
    model = await loadWithLmHeadInputs(outDir);
    kernel = await kernelWith(model.table, model.scales, model.hidden);
  }, 120_000);

  it("gives exactly the graph's logits from the graph's final hidden states, and its embeddings", async () => {
    const fx = fixtures("tiny-b");
    const length = Math.min(...fx.prompts.map((p) => p.prompt_ids.length));
    const ids = fx.prompts.map((p) => p.prompt_ids.slice(0, length));
    const out = await model.run(ids);
    expect(out.hidden.length).toBe(ids.length * length * model.hidden); // every position: M = batch × length rows
    expect(compareBits(kernel.logits(out.hidden), out.logits)).toBe("equal");
    expect(compareBits(kernel.embed(ids.flat()), out.embeddings)).toBe("equal");
  });
});

interface ExposedModel {
  table: Int8Array;
  scales: Float32Array;
  hidden: number;
  run(ids: number[][]): Promise<{ hidden: Float32Array; logits: Float32Array; embeddings: Float32Array }>;
}

/**
 * A converted model whose graph also outputs what its LM head reads (the final hidden state after
 * ln_f) and what its embedding lookup gives, plus its int8 table as [vocab, hidden] rows.
 */
async function loadWithLmHeadInputs(dir: string): Promise<ExposedModel> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
  const graph = decodeModel(await readFile(join(dir, "model.onnx")));
  const data = new Uint8Array(await readFile(join(dir, "model.onnx.data")));
  const { n_layer: L, n_head: H, n_embd: E } = manifest.architecture;
  // protobufjs leaves out empty repeated fields (a Constant has no inputs)
  const nodes = (graph.graph.node as Array<{ op_type: string; input?: string[]; output?: string[] }>).map((n) => ({
    op_type: n.op_type,
    input: n.input ?? [],
    output: n.output ?? [],
  }));
  const producer = (tensor: string) => nodes.find((n) => n.output.includes(tensor))!;
  const consumer = (tensor: string) => nodes.find((n) => n.input.includes(tensor))!;
  // LM head: MatMulIntegerToFloat(QuantizeLinear(Div(hidden, rowMax)), wte.weight_t.int8, …)
  const lmHead = nodes.find((n) => n.op_type === "MatMulIntegerToFloat" && n.input[1] === "wte.weight_t.int8")!;
  const hiddenName = producer(producer(lmHead.input[0]).input[0]).input[0];
  // Embedding: Mul(Cast(Transpose(Gather(wte.weight_t.int8, ids))), scales)
  const gather = nodes.find((n) => n.op_type === "Gather" && n.input[0] === "wte.weight_t.int8")!;
  const embeddingsName = consumer(consumer(consumer(gather.output[0]).output[0]).output[0]).output[0];
  const output = (name: string) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_param: "b" }, { dim_param: "s" }, { dim_value: E }] } } } });
  graph.graph.output.push(output(hiddenName), output(embeddingsName));
  const initializer = (name: string) => {
    const init = graph.graph.initializer.find((i: { name: string }) => i.name === name);
    const field = (key: string) => Number(init.external_data.find((e: { key: string }) => e.key === key).value);
    return data.slice(field("offset"), field("offset") + field("length"));
  };
  const q = initializer("wte.weight_t.int8");
  const V = manifest.architecture.vocab_size;
  const table = transpose(new Int8Array(q.buffer, q.byteOffset, q.byteLength), E, V);
  const scaleBytes = initializer("wte.weight_t.scale");
  const scales = new Float32Array(scaleBytes.buffer, scaleBytes.byteOffset, V);
  const session = await ort.InferenceSession.create(encodeModel(graph), {
    executionProviders: ["wasm"],
    externalData: [{ path: "model.onnx.data", data }],
  });
  return {
    table,
    scales,
    hidden: E,
    async run(ids) {
      const [B, S] = [ids.length, ids[0].length];
      const i64 = (rows: number[][]) => new ort.Tensor("int64", BigInt64Array.from(rows.flat(), BigInt), [B, S]);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64(ids),
        attention_mask: i64(ids.map((row) => row.map(() => 1))),
        position_ids: i64(ids.map((row) => row.map((_, i) => i))),
      };
      for (let l = 0; l < L; l++) {
        for (const kind of ["key", "value"]) feeds[`past_key_values.${l}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [B, H, 0, E / H]);
      }
      const out = await session.run(feeds);
      const floats = (name: string) => out[name].data as Float32Array;
      return { hidden: floats(hiddenName), logits: floats("logits"), embeddings: floats(embeddingsName) };
    },
  };
}
