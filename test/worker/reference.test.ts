// Fidelity to Hugging Face: the reference checkpoints (different shapes and tensor-name layouts),
// converted by our converter, served by the Worker in workerd, must reproduce what transformers
// computed: logits within 1e-4 and identical generate() token ids.
import { beforeAll, describe, expect, it } from "vitest";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { engineFor, generateJson, openTestModel, referenceAvailable, testFile, type Fixtures } from "./helpers";

const EOS = 50256;
const available = await referenceAvailable();

/** Hugging Face returns prompt + continuation (and a final <|endoftext|>); we return the continuation. */
function continuation(full: number[], promptLength: number): number[] {
  const rest = full.slice(promptLength);
  const eos = rest.indexOf(EOS);
  return eos < 0 ? rest : rest.slice(0, eos);
}

describe.each(["tiny-a", "tiny-b"])("%s (fp32) against transformers", (name) => {
  const model = `${name}-fp32`;
  let fixtures: Fixtures;
  let logits: Float32Array;
  beforeAll(async () => {
    if (!available.includes(name)) return;
    fixtures = (await (await testFile(`${name}.fixtures.json`)).json()) as Fixtures;
    logits = new Float32Array(await (await testFile(`${name}.logits.bin`)).arrayBuffer());
  });

  it.skipIf(!available.includes(name))("last-position logits within 1e-4 of Hugging Face", async () => {
    const loaded = await openTestModel(model);
    const vocab = loaded.manifest.architecture.vocab_size;
    for (const [i, p] of fixtures.prompts.entries()) {
      const ids = p.prompt_ids;
      const out = await loaded.session.forward({
        batch: 1, seq: ids.length, inputIds: ids, attentionMask: ids.map(() => 1), positionIds: ids.map((_, j) => j), past: null,
      });
      const expected = logits.subarray(i * vocab, (i + 1) * vocab);
      let maxDiff = 0;
      for (let v = 0; v < vocab; v++) maxDiff = Math.max(maxDiff, Math.abs(out.logits[0][v] - expected[v]));
      expect(maxDiff, `prompt ${i}`).toBeLessThan(1e-4);
      for (const [token, value] of p.last_logits_top5) expect(out.logits[0][token]).toBeCloseTo(value, 4);
    }
  });

  const cases: [string, keyof Fixtures["prompts"][number], Record<string, unknown>][] = [
    ["greedy max_new_tokens=20", "greedy_max_new_tokens_20", { max_new_tokens: 20 }],
    ["the seed call (max_length=50, no_repeat_ngram_size=2)", "seed_call_max_length_50_no_repeat_ngram_2", { max_length: 50, no_repeat_ngram_size: 2 }],
    ["repetition_penalty=1.3", "repetition_penalty_1_3_max_new_tokens_20", { max_new_tokens: 20, repetition_penalty: 1.3 }],
    ["no_repeat_ngram_size=3, repetition_penalty=1.2, min_new_tokens=10", "no_repeat_3_rep_1_2_min_new_10_max_new_24",
      { no_repeat_ngram_size: 3, repetition_penalty: 1.2, min_new_tokens: 10, max_new_tokens: 24 }],
  ];
  it.skipIf(!available.includes(name)).each(cases)("%s: identical token ids over HTTP", async (_label, key, settings) => {
    for (const p of fixtures.prompts) {
      const result = await generateJson({ prompt: p.prompt, ...settings }, model);
      const expected = continuation(p[key] as number[], p.prompt_ids.length);
      expect(result.usage.prompt_tokens).toBe(p.prompt_ids.length);
      if (key === "greedy_max_new_tokens_20" && p === fixtures.prompts[1]) expect(result.usage.cached_tokens).toBe(4);
      expect(result.generations[0].token_ids, `${JSON.stringify(p.prompt)}`).toEqual(expected);
      if (key === "greedy_max_new_tokens_20") expect(result.generations[0].text).toBe(p.greedy_text);
    }
    if (key === "greedy_max_new_tokens_20") {
      // Prompt 1 extends prompt 0 ("Once upon a time…"): it reused prompt 0's cached keys/values,
      // and still produced transformers' ids. Later cases repeat prompts exactly.
      const again = await generateJson({ prompt: fixtures.prompts[1].prompt, ...settings, cache: false }, model);
      expect(again.usage.cached_tokens).toBe(fixtures.prompts[1].prompt_ids.length);
    }
  });

  it.skipIf(!available.includes(name))("the batched left-padded case: identical ids when the rows decode as one batch", async () => {
    const engine = await engineFor(model);
    expect(engine.manifest.io.kv_padding).toBe("right"); // our graph: rows share a right-padded cache
    const { input_ids, attention_mask, output_ids } = fixtures.batched_left_padded_greedy_max_new_16;
    // Submitted together, the rows are prefilled one by one and then decode in one batch.
    const results = await Promise.all(input_ids.map((row, b) => engine.submit({
      promptIds: row.filter((_, j) => attention_mask[b][j] === 1),
      maxNewTokens: 16, numSequences: 1, sampling: SAMPLING_DEFAULTS, seed: 0, stop: [], eosTokenId: EOS,
      budget: { deadline: null, now: Date.now },
    })));
    results.forEach((result, b) => {
      expect(result.sequences[0].tokenIds).toEqual(continuation(output_ids[b], input_ids[b].length));
      expect(result.steps).toBe(15); // the 16th token needs no step after it
    });
  });
});

describe("served checkpoints", () => {
  it("a synthetic checkpoint of another shape converts and serves with no code change", async () => {
    const result = await generateJson({ prompt: "Hello", max_new_tokens: 5 }, "synthetic-int8");
    expect(result.model).toBe("synthetic-int8");
    expect(result.generations[0].token_ids).toHaveLength(5);
  });
});
