// The int8 LM-head kernel in the decode path (src/engine/head.ts): a model converted the default
// int8 way (graph from inputs_embeds to hidden_states + embedding.int8) must give exactly what the
// same checkpoint converted as one graph gives (--embedding graph): the same logits bit for bit, at
// prefill and batched, and so the same tokens through the engine, greedy and sampled.
import { describe, expect, it } from "vitest";
import type { GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { engineTokenIds, firstDifference, openTestModel, referenceAvailable } from "./helpers";

const EOS = 50256;
const available = await referenceAvailable();

function jobs(): GenerationJob[] {
  const sampled = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0, temperature: 1.3 };
  return Array.from({ length: 6 }, (_, j) => ({
    promptIds: Array.from({ length: 2 + ((j * 13) % 30) }, (_, i) => (i * 7919 + j * 31) % 50257),
    maxNewTokens: 6 + ((j * 5) % 11),
    numSequences: j === 3 ? 2 : 1,
    sampling: j % 2 ? sampled : SAMPLING_DEFAULTS,
    seed: 77 + j,
    stop: [],
    eosTokenId: EOS,
    budget: { deadline: null, now: Date.now },
  }));
}

describe.each(["tiny-a", "tiny-b"])("%s int8: LM-head kernel vs the one-graph model", (name) => {
  const kernelModel = `${name}-int8`;
  const graphModel = `${name}-int8-graph`;

  it.skipIf(!available.includes(name))("the default int8 conversion uses the kernel; the graph layout does not", async () => {
    const kernel = await openTestModel(kernelModel);
    const graph = await openTestModel(graphModel);
    expect(kernel.manifest.files.filter((f) => f.role === "embedding").map((f) => f.path)).toEqual(["embedding.int8"]);
    expect(kernel.manifest.io.inputs[0]).toBe("inputs_embeds");
    expect(graph.manifest.files.some((f) => f.role === "embedding")).toBe(false);
    expect(graph.manifest.io.inputs[0]).toBe("input_ids");
  });

  it.skipIf(!available.includes(name))("identical last-position logits, one row and a batch of three", async () => {
    const kernel = await openTestModel(kernelModel);
    const graph = await openTestModel(graphModel);
    const vocab = kernel.manifest.architecture.vocab_size;
    for (const [batch, seq] of [[1, 1], [1, 23], [3, 9]]) {
      const inputIds = Array.from({ length: batch * seq }, (_, i) => (i * 4099 + batch) % vocab);
      const input = {
        batch, seq, inputIds, attentionMask: inputIds.map(() => 1),
        positionIds: inputIds.map((_, i) => i % seq), past: null,
      };
      const [a, b] = [await kernel.session.forward(input), await graph.session.forward(input)];
      expect(a.logits).toHaveLength(batch);
      a.logits.forEach((row, r) => {
        expect(row).toHaveLength(vocab);
        expect(firstDifference(row, b.logits[r]), `batch ${batch}, seq ${seq}, row ${r}`).toBe(-1);
      });
      a.kv.tensors.forEach((t, i) => expect(firstDifference(t, b.kv.tensors[i]), `kv ${i}`).toBe(-1));
    }
  });

  it.skipIf(!available.includes(name))("identical tokens through the engine, batched, greedy and sampled", async () => {
    // (the Worker keeps one model per isolate: run the two one after the other)
    const viaKernel = await engineTokenIds(kernelModel, jobs());
    const viaGraph = await engineTokenIds(graphModel, jobs());
    expect(viaKernel.flat(2).length).toBeGreaterThan(30);
    expect(viaKernel).toEqual(viaGraph);
  });
});
