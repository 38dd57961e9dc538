// `embedding: "external"`: the converted graph runs from inputs_embeds to the final hidden state,
// and the int8 token embedding is its own file for the LM-head kernel (src/engine/lm-head). The
// kernel's embedding + that graph + the kernel's LM head must give exactly the logits of the
// usual one-graph int8 model, prefill and decode step alike.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { TiedEmbedding } from "../../src/engine/lm-head/index.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import { lmHeadModuleFromDisk, transpose } from "../../tools/bench/lm-head-onnx.js";
import { EMBEDDING_FILE, readEmbeddingFile } from "../../tools/convert/embedding-file.js";
import { convertCheckpoint, defaultEmbedding } from "../../tools/convert/index.js";
import { decodeModel } from "../../tools/convert/onnx-schema.js";
import { CACHE_DIR, REFERENCE_DIR, VOCAB, compareBits, fixtures } from "./reference.js";

const NAME = "tiny-a";
const inGraphDir = `${CACHE_DIR}${NAME}-int8-embedding-in-graph`;
const externalDir = `${CACHE_DIR}${NAME}-int8-embedding-external`;

interface Loaded {
  manifest: ModelManifest;
  session: ort.InferenceSession;
  data: Uint8Array;
}

async function load(dir: string): Promise<Loaded> {
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ModelManifest;
  const data = new Uint8Array(await readFile(join(dir, "model.onnx.data")));
  const session = await ort.InferenceSession.create(new Uint8Array(await readFile(join(dir, "model.onnx"))), {
    executionProviders: ["wasm"],
    externalData: [{ path: "model.onnx.data", data }],
  });
  return { manifest, session, data };
}

/** One run: `first` is input_ids (int64 [1, S]) or inputs_embeds (float [1, S, E]). */
async function step(m: Loaded, first: ort.Tensor, past: Record<string, ort.Tensor> | null, S: number) {
  const { n_layer: L, n_head: H, n_embd: E } = m.manifest.architecture;
  const pastLength = past ? (past["present.0.key"].dims[2] as number) : 0;
  const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
  const feeds: Record<string, ort.Tensor> = {
    [m.manifest.io.inputs[0]]: first,
    attention_mask: i64(new Array(pastLength + S).fill(1)),
    position_ids: i64(Array.from({ length: S }, (_, i) => pastLength + i)),
  };
  for (let l = 0; l < L; l++) {
    for (const kind of ["key", "value"]) {
      feeds[`past_key_values.${l}.${kind}`] = past?.[`present.${l}.${kind}`] ?? new ort.Tensor("float32", new Float32Array(0), [1, H, 0, E / H]);
    }
  }
  return m.session.run(feeds);
}

describe(`int8 ${NAME} converted with embedding "external"`, () => {
  let inGraph: Loaded;
  let external: Loaded;
  let kernel: TiedEmbedding;

  beforeAll(async () => {
    const src = `${REFERENCE_DIR}/${NAME}`;
    await convertCheckpoint(src, { dtype: "int8", outDir: inGraphDir, logits: "all", embedding: "graph" });
    // (no embedding option: "external" is the int8 default; the MLPs stay in this one graph here —
    // convert-mlp.test.ts covers the default layout with the MLPs in the kernel)
    // (hidden_states holds every position whatever `logits` says: prompt lookup verifies drafts with them)
    await convertCheckpoint(src, { dtype: "int8", outDir: externalDir, mlp: "graph" });
    // One after the other: two onnxruntime-web sessions created concurrently gave NaN outputs here.
    inGraph = await load(inGraphDir);
    external = await load(externalDir);
    const { n_embd: E, vocab_size: V } = external.manifest.architecture;
    const { table, scales } = readEmbeddingFile(new Uint8Array(await readFile(join(externalDir, EMBEDDING_FILE))), V, E);
    kernel = await TiedEmbedding.create(await lmHeadModuleFromDisk(), { vocab: V, hidden: E });
    kernel.table.set(table);
    kernel.scales.set(scales);
  }, 120_000);

  it("describes the new inputs, outputs and embedding file in the manifest", async () => {
    const { io, files, architecture } = external.manifest;
    expect(io.inputs[0]).toBe("inputs_embeds");
    expect(io.outputs[0]).toBe("hidden_states");
    expect(io.inputs.slice(1)).toEqual(inGraph.manifest.io.inputs.slice(1));
    expect(io.outputs.slice(1)).toEqual(inGraph.manifest.io.outputs.slice(1));
    const entry = files.find((f) => (f.role as string) === "embedding");
    const bytes = await readFile(join(externalDir, EMBEDDING_FILE));
    expect(entry).toEqual({
      path: EMBEDDING_FILE,
      bytes: architecture.vocab_size * (architecture.n_embd + 4),
      sha256: createHash("sha256").update(bytes).digest("hex"),
      role: "embedding",
    });
  });

  it("keeps the table only in the embedding file, with the in-graph table's numbers", async () => {
    const { n_embd: E, vocab_size: V } = external.manifest.architecture;
    const initializers = (m: Loaded, dir: string) =>
      readFile(join(dir, "model.onnx")).then((b) => decodeModel(b).graph.initializer as Array<{ name: string; external_data: Array<{ key: string; value: string }> }>);
    expect((await initializers(external, externalDir)).map((i) => i.name).filter((n) => n.startsWith("wte"))).toEqual([]);
    expect(external.data.byteLength).toBeLessThan(inGraph.data.byteLength - V * E);
    const wte = (await initializers(inGraph, inGraphDir)).find((i) => i.name === "wte.weight_t.int8")!;
    const field = (key: string) => Number(wte.external_data.find((e) => e.key === key)!.value);
    const inGraphTable = new Int8Array(inGraph.data.buffer, inGraph.data.byteOffset + field("offset"), field("length"));
    expect(compareBits(kernel.table, transpose(inGraphTable, E, V))).toBe("equal");
  });

  it("gives exactly the in-graph model's logits: prompt positions, then a decode step", async () => {
    const { n_embd: E } = external.manifest.architecture;
    const prompt = fixtures(NAME).prompts[0].prompt_ids;
    const ids = (tokens: number[]) => new ort.Tensor("int64", BigInt64Array.from(tokens, BigInt), [1, tokens.length]);
    const embeds = (tokens: number[]) => new ort.Tensor("float32", kernel.embed(tokens), [1, tokens.length, E]);
    const logitsVia = (out: ort.InferenceSession.OnnxValueMapType) => kernel.logits(out.hidden_states.data as Float32Array);

    const prefillRef = await step(inGraph, ids(prompt), null, prompt.length);
    const prefill = await step(external, embeds(prompt), null, prompt.length);
    expect(prefill.hidden_states.dims).toEqual([1, prompt.length, E]); // every position, as any external graph returns
    expect(compareBits(logitsVia(prefill), prefillRef.logits.data as Float32Array)).toBe("equal");
    expect(compareBits(prefill["present.1.value"].data as Float32Array, prefillRef["present.1.value"].data as Float32Array)).toBe("equal");

    const next = [prompt.length % VOCAB];
    const decodeRef = await step(inGraph, ids(next), prefillRef as Record<string, ort.Tensor>, 1);
    const decode = await step(external, embeds(next), prefill as Record<string, ort.Tensor>, 1);
    expect(compareBits(logitsVia(decode), decodeRef.logits.data as Float32Array)).toBe("equal");
  });

  it("is the int8 default where the kernel fits; fp32 and other widths stay one graph", () => {
    expect(defaultEmbedding("int8", 768)).toBe("external");
    expect(defaultEmbedding("int8", 96)).toBe("external");
    expect(defaultEmbedding("int8", 40)).toBe("graph"); // the kernel steps 16 columns at a time
    expect(defaultEmbedding("fp32", 768)).toBe("graph");
  });

  it("leaves no stale embedding file when a folder is re-converted as one graph", async () => {
    const dir = `${CACHE_DIR}${NAME}-int8-reconverted`;
    await convertCheckpoint(`${REFERENCE_DIR}/${NAME}`, { dtype: "int8", outDir: dir });
    await readFile(join(dir, EMBEDDING_FILE));
    await convertCheckpoint(`${REFERENCE_DIR}/${NAME}`, { dtype: "int8", outDir: dir, embedding: "graph" });
    await expect(readFile(join(dir, EMBEDDING_FILE))).rejects.toThrow(/ENOENT/);
  });

  it("refuses fp32 (the kernel is int8)", async () => {
    await expect(convertCheckpoint(`${REFERENCE_DIR}/${NAME}`, { dtype: "fp32", outDir: `${CACHE_DIR}unused`, embedding: "external" })).rejects.toThrow(/needs dtype int8/);
  });
});
