// Ready-made hub ONNX exports (Optimum / transformers.js layout: torch.onnx.export graphs with
// the tied embedding stored twice, tracing's Shape/Gather/Concat nodes, quantize_dynamic files),
// made into model folders the way `npm run model:fetch` does and served as they are.
import { beforeAll, describe, expect, it } from "vitest";
import type { KvCache } from "../../src/engine/forward";
import { generateJson, openTestModel, referenceAvailable, testFile, type Fixtures } from "./helpers";

const EOS = 50256;
const available = (await referenceAvailable()).includes("tiny-a-onnx");

function continuation(full: number[], promptLength: number): number[] {
  const rest = full.slice(promptLength);
  const eos = rest.indexOf(EOS);
  return eos < 0 ? rest : rest.slice(0, eos);
}

describe.skipIf(!available)("the tiny-a reference export (onnx/model.onnx, no use_cache_branch)", () => {
  let fixtures: Fixtures;
  beforeAll(async () => {
    fixtures = (await (await testFile("tiny-a.fixtures.json")).json()) as Fixtures;
  });

  it("greedy ids equal transformers' and our own converted tiny-a fp32", async () => {
    // One model per isolate: run each model's prompts together rather than reloading per prompt.
    const greedy = async (model: string) => {
      const ids: number[][] = [];
      for (const p of fixtures.prompts) ids.push((await generateJson({ prompt: p.prompt, max_new_tokens: 20 }, model)).generations[0].token_ids);
      return ids;
    };
    const served = await greedy("tiny-a-onnx-fp32");
    expect(served).toEqual(fixtures.prompts.map((p) => continuation(p.greedy_max_new_tokens_20, p.prompt_ids.length)));
    expect(served).toEqual(await greedy("tiny-a-fp32"));
    expect(await greedy("tiny-a-mha-fp32")).toEqual(served);
  });

  it.each(["tiny-a-onnx-fp32", "tiny-a-mha-fp32"])("%s: a left-padded batch through the KV cache matches transformers", async (model) => {
    const loaded = await openTestModel(model);
    expect(loaded.layout.name).toBe("left-padded");
    const { input_ids, attention_mask, output_ids } = fixtures.batched_left_padded_greedy_max_new_16;
    const mask = attention_mask.map((row) => [...row]);
    const sequences = input_ids.map((row) => [...row]);
    let fresh = input_ids.map((row) => [...row]);
    let past: KvCache | null = null;
    for (let step = 0; step < 16; step++) {
      const seq = fresh[0].length;
      // Hugging Face's positions for left padding: cumsum(mask) - 1, padding set to 1.
      const positionIds = mask.flatMap((row) => {
        let seen = 0;
        return row.map((m) => (m ? seen++ : 1)).slice(row.length - seq);
      });
      const out = await loaded.session.forward({ batch: fresh.length, seq, inputIds: fresh.flat(), attentionMask: mask.flat(), positionIds, past });
      past = loaded.layout.next(past, out.kv, mask.map((row) => row.length - seq), seq, false);
      fresh = out.logits.map((row) => [row.indexOf(Math.max(...row))]);
      fresh.forEach(([token], b) => {
        sequences[b].push(token);
        mask[b].push(1);
      });
    }
    expect(sequences).toEqual(output_ids);
  });
});

describe.skipIf(!available)("the tiny-a quantized export (onnx/model_quantized.onnx, quantize_dynamic)", () => {
  it("loads and generates (lossy on random weights, so no exact ids)", async () => {
    const result = await generateJson({ prompt: "Hello, my name is", max_new_tokens: 12, min_new_tokens: 12 }, "tiny-a-onnx-int8");
    expect(result.model).toBe("tiny-a-onnx");
    expect(result.generations[0].token_ids).toHaveLength(12);
    expect(result.generations[0].finish_reason).toBe("length");
  });
});
