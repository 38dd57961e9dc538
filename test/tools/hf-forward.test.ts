// The independent fp32 forward (hf-forward.ts) must reproduce transformers before its fixtures for
// other checkpoints can be trusted: last-position logits within 1e-4 of ../shared/reference.
import { describe, expect, it } from "vitest";
import { hfForward, loadHfModel } from "./hf-forward.js";
import { CHECKPOINTS, REFERENCE_DIR, VOCAB, fixtures, maxAbsDiff, referenceLogits } from "./reference.js";

describe.each(CHECKPOINTS)("hf-forward %s", (name) => {
  it("matches transformers' last-position logits within 1e-4", () => {
    const model = loadHfModel(`${REFERENCE_DIR}/${name}`);
    const expected = referenceLogits(name);
    fixtures(name).prompts.forEach((p, i) => {
      const logits = hfForward(model, p.prompt_ids, { lastOnly: true });
      expect(maxAbsDiff(logits, expected.subarray(i * VOCAB, (i + 1) * VOCAB)), `prompt ${i}`).toBeLessThan(1e-4);
    });
  });
});
