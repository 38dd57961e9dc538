// Calibration pass for int8: runs the checkpoint in fp32 over a small English corpus shipped in the
// repo (calibration-corpus.txt, tokenized with the project tokenizer) and records, for every
// linear, the largest |activation| each input channel reaches. GPT-2's activation outliers live in
// fixed channels (a few residual dims, LayerNorm-gain dims, MLP units), so a few kilobytes of text
// find them. The pass runs the converter's own fp32 graph with onnxruntime-web (the same kernels as
// the Worker), with each linear's input exposed as an extra graph output.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { encode } from "../../src/tokenizer/index.js";
import type { Gpt2Config, Gpt2Weights } from "./checkpoint.js";
import { buildGpt2Graph, graphInputNames, MS_DOMAIN, pastName } from "./gpt2-graph.js";
import { DataType } from "./onnx-schema.js";
import { fp32Format } from "./weight-formats.js";
import { DATA_FILE, GRAPH_FILE, writeOnnxWithExternalData } from "./write-model.js";

export const CALIBRATION_CORPUS = new URL("./calibration-corpus.txt", import.meta.url);
/** Tokens per calibration run: long enough for attention to see context, short enough to stay fast. */
const CHUNK = 128;

/** Per linear (e.g. "h.0.attn.c_attn"): max |x| over the corpus of each input channel. */
export type ChannelMaxima = Map<string, Float32Array>;

const probeName = (linear: string) => `calibration.${linear}`;

export async function calibrate(config: Gpt2Config, weights: Gpt2Weights, corpus = CALIBRATION_CORPUS): Promise<ChannelMaxima> {
  const { vocab_size: V, n_embd: E, n_layer: L, n_head: H } = config;
  const fp32 = fp32Format(weights.wte, V, E);
  const widths = new Map<string, number>();
  const graph = buildGpt2Graph(config, weights, {
    ...fp32,
    linear(g, x, name, w, bias, K, N) {
      widths.set(name, K);
      g.op("Identity", [x], {}, { outputs: [probeName(name)] });
      g.output({ name: probeName(name), elemType: DataType.FLOAT, dims: ["batch_size", "sequence_length", K] });
      return fp32.linear(g, x, name, w, bias, K, N);
    },
  });
  const dir = await mkdtemp(join(tmpdir(), "edge-gpt2-calibration-"));
  try {
    await writeOnnxWithExternalData(graph, dir, {
      graphName: "calibration",
      opsets: [{ domain: "", version: 17 }, { domain: MS_DOMAIN, version: 1 }],
      producer: { name: "edge-gpt2-calibrate", version: "1" },
    });
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(new Uint8Array(await readFile(join(dir, GRAPH_FILE))), {
      executionProviders: ["wasm"],
      externalData: [{ path: DATA_FILE, data: new Uint8Array(await readFile(join(dir, DATA_FILE))) }],
    });
    const maxima: ChannelMaxima = new Map([...widths].map(([name, K]) => [name, new Float32Array(K)]));
    // Out-of-vocabulary ids (checkpoints with a smaller vocabulary) wrap around.
    const tokens = encode(await readFile(corpus, "utf8")).map((id) => id % V);
    const chunk = Math.min(CHUNK, config.n_positions);
    for (let start = 0; start < tokens.length; start += chunk) {
      const ids = tokens.slice(start, start + chunk);
      const S = ids.length;
      const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, S]);
      const feeds: Record<string, ort.Tensor> = {
        [graphInputNames(L)[0]]: i64(ids),
        [graphInputNames(L)[1]]: i64(ids.map(() => 1)),
        [graphInputNames(L)[2]]: i64(ids.map((_, i) => i)),
      };
      for (let l = 0; l < L; l++) {
        for (const kind of ["key", "value"] as const) feeds[pastName(l, kind)] = new ort.Tensor("float32", new Float32Array(0), [1, H, 0, E / H]);
      }
      const out = await session.run(feeds);
      for (const [name, max] of maxima) {
        const x = out[probeName(name)].data as Float32Array;
        const K = max.length;
        for (let i = 0; i < x.length; i++) {
          const v = Math.abs(x[i]);
          if (v > max[i % K]) max[i % K] = v;
        }
      }
    }
    await session.release();
    return maxima;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The outlier channels of one linear's input: those whose calibrated max |x| is over `ratio`
 * times the median channel's, largest first, at most `cap`. Plain checkpoints have none (their
 * channel maxima sit within a few × of each other), so their graphs are unchanged.
 */
export function outlierChannels(maxima: Float32Array, ratio: number, cap: number): number[] {
  const sorted = Float32Array.from(maxima).sort();
  const median = sorted[Math.floor(sorted.length / 2)];
  return [...maxima.keys()]
    .filter((k) => maxima[k] > ratio * median)
    .sort((a, b) => maxima[b] - maxima[a])
    .slice(0, cap);
}
