// Continuous batching on a real converted model in workerd: requests that join and leave a running
// batch at different lengths (greedy and seeded, one or several sequences, prefix-cache hits) get
// exactly the tokens they get alone — the batch's cache grows in place, is stacked, shrunk and
// re-stacked under them, and none of it may show.
import { describe, expect, it } from "vitest";
import type { GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS } from "../../src/sampling/index";
import { engineFor } from "./helpers";

const EOS = 50256;

function jobs(): GenerationJob[] {
  const sampled = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0, temperature: 1.3 };
  return Array.from({ length: 14 }, (_, j) => ({
    // Lengths 3..40; every third prompt shares a prefix with an earlier one (prefix-cache hits).
    promptIds: Array.from({ length: 3 + ((j * 11) % 38) }, (_, i) => (j % 3 === 2 ? i * 13 : i * 7919 + j * 31) % 50000),
    maxNewTokens: 5 + ((j * 7) % 23),
    numSequences: j % 5 === 4 ? 3 : 1,
    sampling: j % 2 ? sampled : SAMPLING_DEFAULTS,
    seed: 1000 + j,
    stop: [],
    eosTokenId: EOS,
    budget: { deadline: null, now: Date.now },
  }));
}

const tokens = (result: { sequences: { tokenIds: number[] }[] }) => result.sequences.map((s) => s.tokenIds);

// tiny-a-int8 (right-padded-append: each step's new keys/values are appended to the cache in JS,
// in place) and tiny-a-mha-fp32 (left-padded: the graph returns the whole cache).
describe.each(["tiny-a-int8", "tiny-a-mha-fp32"])("batching on a real model: %s", (model) => {
  it("requests joining and leaving mid-generation get exactly their solo tokens", async () => {
    const engine = await engineFor(model);
    const specs = jobs();
    const alone: number[][][] = [];
    for (const spec of specs) alone.push(tokens(await engine.submit(spec)));
    // Again, concurrently, arriving a few steps apart so they join a batch already running.
    const pending = [];
    let widest = 0;
    for (const spec of specs) {
      pending.push(engine.submit(spec));
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        widest = Math.max(widest, engine.activity().rows);
      }
    }
    const together = (await Promise.all(pending)).map(tokens);
    expect(widest).toBeGreaterThan(3); // really batched
    together.forEach((rows, j) => expect(rows, `request ${j}`).toEqual(alone[j]));
  });
});
