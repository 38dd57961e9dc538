// The blocks' MLPs in the int8 kernel (issue 13, src/engine/layered-session.ts): a model converted
// the default int8 way (one graph per block up to ln_2, ln_f's graph, mlp.int8) must give exactly
// what the same checkpoint gives with its MLPs inside the graph (--mlp graph) — logits and keys/values
// bit for bit, at prefill and batched, and so the same tokens through the engine. The outlier
// checkpoint makes c_fc and c_proj keep outlier channels in fp32, the kernel's hardest path.
// (tiny-a / tiny-b are compared with their one-graph conversions in lm-head.test.ts.)
import { describe, expect, it } from "vitest";
import type { GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { engineTokenIds, firstDifference, openTestModel } from "./helpers";

const KERNEL = "outlier-int8";
const GRAPH = "outlier-int8-mlp-graph";

describe("MLPs in the kernel vs in the graph (outlier checkpoint)", () => {
  it("the default int8 conversion lays the model out for the kernel, with fp32 outlier channels in both linears", async () => {
    const { manifest } = await openTestModel(KERNEL);
    const L = manifest.architecture.n_layer;
    expect(manifest.files.filter((f) => f.role === "graph").map((f) => f.path)).toEqual(Array.from({ length: L + 1 }, (_, i) => `layer-${String(i).padStart(2, "0")}.onnx`));
    expect(manifest.files.filter((f) => f.role === "mlp").map((f) => f.path)).toEqual(["mlp.int8"]);
    expect(manifest.mlp!.outliers.some((o) => o.fc.length > 0)).toBe(true);
    expect(manifest.mlp!.outliers.some((o) => o.proj.length > 0)).toBe(true);
    const graph = (await openTestModel(GRAPH)).manifest;
    expect(graph.mlp).toBeUndefined();
    expect(graph.files.filter((f) => f.role === "graph").map((f) => f.path)).toEqual(["model.onnx"]);
  });

  it("identical logits and keys/values, one row and batches, prompts and a decode step", async () => {
    const kernel = await openTestModel(KERNEL);
    const graph = await openTestModel(GRAPH);
    const vocab = kernel.manifest.architecture.vocab_size;
    for (const [batch, seq] of [[1, 1], [1, 23], [3, 9], [2, 40]]) {
      const inputIds = Array.from({ length: batch * seq }, (_, i) => (i * 4099 + batch * 7) % vocab);
      const prefill = { batch, seq, inputIds, attentionMask: inputIds.map(() => 1), positionIds: inputIds.map((_, i) => i % seq), past: null };
      const [a, b] = [await kernel.session.forward(prefill), await graph.session.forward(prefill)];
      a.logits.forEach((row, r) => expect(firstDifference(row, b.logits[r]), `prefill ${batch}×${seq}, row ${r}`).toBe(-1));
      a.kv.tensors.forEach((t, i) => expect(firstDifference(t, b.kv.tensors[i]), `prefill ${batch}×${seq}, kv ${i}`).toBe(-1));
    }
  });

  it("identical tokens through the engine, batched, greedy and sampled", async () => {
    const sampled = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0, temperature: 1.2 };
    const jobs = (): GenerationJob[] =>
      Array.from({ length: 5 }, (_, j) => ({
        promptIds: Array.from({ length: 3 + ((j * 11) % 25) }, (_, i) => (i * 7919 + j * 131) % 50257),
        maxNewTokens: 8 + j,
        numSequences: j === 2 ? 2 : 1,
        sampling: j % 2 ? sampled : SAMPLING_DEFAULTS,
        seed: 5 + j,
        stop: [],
        eosTokenId: 50256,
        budget: { deadline: null, now: Date.now },
      }));
    const viaKernel = await engineTokenIds(KERNEL, jobs());
    const viaGraph = await engineTokenIds(GRAPH, jobs());
    expect(viaKernel.flat(2).length).toBeGreaterThan(40);
    expect(viaKernel).toEqual(viaGraph);
  });
});
