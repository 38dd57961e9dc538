// Prompt-lookup decoding on the reference checkpoints, served in workerd: it changes how many steps
// a generation takes, never its tokens. The int8 conversions (LM-head kernel layout) return every
// position's hidden state, so their steps verify drafts; fp32 conversions return only the last
// position's logits and decode one token per step, the field accepted all the same.
import { describe, expect, it } from "vitest";
import { generateJson, referenceAvailable, testFile, type Fixtures } from "./helpers";

const available = await referenceAvailable();

describe.each(["tiny-a", "tiny-b"])("%s with prompt_lookup_num_tokens", (name) => {
  it.skipIf(!available.includes(name))("int8: greedy and seeded sampling give plain decoding's tokens, in fewer steps", async () => {
    const fixtures = (await (await testFile(`${name}.fixtures.json`)).json()) as Fixtures;
    const model = `${name}-int8`;
    let saved = 0;
    for (const p of fixtures.prompts) {
      for (const settings of [{}, { repetition_penalty: 1.2 }, { do_sample: true, seed: 7, top_k: 5 }]) {
        const body = { prompt: p.prompt, max_new_tokens: 48, min_new_tokens: 48, cache: false, ...settings };
        const plain = await generateJson(body, model);
        const lookup = await generateJson({ ...body, prompt_lookup_num_tokens: 6 }, model);
        expect(lookup.generations[0].token_ids, `${JSON.stringify(p.prompt)} ${JSON.stringify(settings)}`).toEqual(plain.generations[0].token_ids);
        expect(plain.timings.decode_steps).toBe(47);
        saved += 47 - lookup.timings.decode_steps!;
      }
    }
    expect(saved).toBeGreaterThan(0); // drafts were really accepted somewhere
  });

  it.skipIf(!available.includes(name))("fp32: accepted, one token per step, Hugging Face's greedy ids", async () => {
    const fixtures = (await (await testFile(`${name}.fixtures.json`)).json()) as Fixtures;
    const p = fixtures.prompts[0];
    const result = await generateJson({ prompt: p.prompt, max_new_tokens: 20, prompt_lookup_num_tokens: 4, cache: false }, `${name}-fp32`);
    const continuation = p.greedy_max_new_tokens_20.slice(p.prompt_ids.length);
    const end = continuation.indexOf(50256); // Hugging Face's ids end with <|endoftext|>, ours without
    expect(result.generations[0].token_ids).toEqual(end < 0 ? continuation : continuation.slice(0, end));
    expect(result.timings.decode_steps).toBe(result.generations[0].token_ids.length - 1);
  });
});

it("rejects a prompt_lookup_num_tokens outside its range, naming the field", async () => {
  const { postJson } = await import("./helpers");
  const response = await postJson("/v1/generate", { prompt: "x", prompt_lookup_num_tokens: 17 }, "tiny-a-int8");
  expect(response.status).toBe(400);
  expect(((await response.json()) as { error: { param: string } }).error.param).toBe("prompt_lookup_num_tokens");
});
