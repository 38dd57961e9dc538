import { describe, expect, it } from "vitest";
import type { GenerationJob } from "../../src/engine/scheduler";
import { SAMPLING_DEFAULTS, type SamplingSettings } from "../../src/sampling/index";
import { deriveSeed } from "../../src/sampling/rng";
import { decode, encode } from "../../src/tokenizer/index";
import { fakeModel, generateAlone, generateWith } from "./fake-model";

const EOS = 50256;
const noPause = async () => {};

function options(overrides: Partial<GenerationJob> = {}): GenerationJob {
  return {
    promptIds: [464, 2068, 7586],
    maxNewTokens: 12,
    numSequences: 1,
    sampling: { ...SAMPLING_DEFAULTS },
    seed: 1234,
    stop: [],
    eosTokenId: EOS,
    budget: { deadline: null, now: Date.now },
    ...overrides,
  };
}

describe("generate", () => {
  it("prefills once, then feeds one token per step with the cache growing by one", async () => {
    const model = fakeModel();
    const result = await generateWith(model, options());
    expect(result.sequences[0].tokenIds).toEqual(generateAlone([464, 2068, 7586], SAMPLING_DEFAULTS, deriveSeed(1234, 0), 12));
    expect(result.sequences[0].finishReason).toBe("length");
    expect(model.calls.map((c) => [c.seq, c.past?.length ?? 0])).toEqual([[3, 0], ...Array.from({ length: 11 }, (_, i) => [1, 3 + i])]);
    expect(result.steps).toBe(11);
    expect(result.sequences[0].text).toBe(decode(result.sequences[0].tokenIds));
  });

  it("stops on <|endoftext|> without returning it", async () => {
    const model = fakeModel({ eosBias: 30 }); // eos becomes the most likely token at once
    const result = await generateWith(model, options());
    expect(result.sequences[0]).toEqual({ tokenIds: [], text: "", finishReason: "stop" });
  });

  it("min_new_tokens holds off <|endoftext|>", async () => {
    const model = fakeModel({ eosBias: 30 });
    const result = await generateWith(model, options({ sampling: { ...SAMPLING_DEFAULTS, min_new_tokens: 3 } }));
    expect(result.sequences[0].tokenIds).toHaveLength(3);
    expect(result.sequences[0].finishReason).toBe("stop");
  });

  it("cuts the text before a stop string, even one spanning tokens", async () => {
    const full = await generateWith(fakeModel(), options());
    const text = full.sequences[0].text;
    const stop = text.slice(5, 9); // spans a token boundary in general
    const result = await generateWith(fakeModel(), options({ stop: ["never-generated", stop] }));
    expect(result.sequences[0].finishReason).toBe("stop");
    expect(result.sequences[0].text).toBe(text.slice(0, text.indexOf(stop)));
    expect(result.sequences[0].tokenIds.length).toBeLessThan(full.sequences[0].tokenIds.length);
  });

  it("ends with finish_reason time when the wall-clock budget runs out", async () => {
    let clock = 0;
    const model = fakeModel({ onStep: () => (clock += 10) });
    const result = await generateWith(model, options({ budget: { deadline: 35, now: () => clock } }));
    expect(result.sequences[0].finishReason).toBe("time");
    expect(result.sequences[0].tokenIds).toHaveLength(4); // steps end at t=10,20,30,40
  });

  it("stops when the client aborts", async () => {
    const controller = new AbortController();
    const model = fakeModel({ onStep: (input) => (input.past?.length ?? 0) >= 5 && controller.abort() });
    const result = await generateWith(model, options({ budget: { deadline: null, now: Date.now, signal: controller.signal } }));
    expect(result.sequences[0].finishReason).toBe("cancelled");
    expect(model.calls.length).toBe(4);
  });

  it("runs num_return_sequences as one batch; rows that finish early leave without disturbing the rest", async () => {
    const sampling: SamplingSettings = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0 };
    const model = fakeModel({ eosBias: 13.2 }); // eos is one likely candidate among five
    const result = await generateWith(model, options({ sampling, numSequences: 5, maxNewTokens: 20 }));
    const lengths = result.sequences.map((s) => s.tokenIds.length);
    expect(new Set(lengths).size).toBeGreaterThan(1); // rows really finished at different steps
    result.sequences.forEach((s, i) => {
      expect(s.tokenIds).toEqual(generateAlone([464, 2068, 7586], sampling, deriveSeed(1234, i), 20, 13.2));
    });
    expect(Math.max(...model.calls.map((c) => c.batch))).toBe(5);
    expect(model.calls[0].batch).toBe(1); // the shared prompt is prefilled once
  });

  it("gives the same text for the same seed, and different text for another", async () => {
    const sampling: SamplingSettings = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0 };
    const run = (seed: number) => generateWith(fakeModel(), options({ sampling, seed }));
    const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
    expect(a.sequences).toEqual(b.sequences);
    expect(a.sequences[0].tokenIds).not.toEqual(c.sequences[0].tokenIds);
  });

  it("works with a prompt encoded by the real tokenizer and returns decodable text", async () => {
    const result = await generateWith(fakeModel(), options({ promptIds: encode("Hello, world! 👋") }));
    expect(typeof result.sequences[0].text).toBe("string");
    expect(result.sequences[0].tokenIds).toHaveLength(12);
  });

  it("streams deltas that add up to the final text, holding back a possible stop string", async () => {
    const full = await generateWith(fakeModel(), options({ maxNewTokens: 20 }));
    const text = full.sequences[0].text;
    const stop = text.slice(10, 14);
    const events: string[] = [];
    const finishes: string[] = [];
    const result = await generateWith(fakeModel(), options({
      maxNewTokens: 20,
      stop: [stop],
      listener: {
        token: (_index, _id, delta) => events.push(delta),
        finish: (_index, reason, delta) => finishes.push(`${reason}:${delta}`),
      },
    }));
    const streamed = events.join("") + finishes[0].slice("stop:".length);
    expect(streamed).toBe(result.sequences[0].text);
    expect(events.join("")).not.toContain(stop);
    expect(finishes).toHaveLength(1);
    expect(events).toHaveLength(result.sequences[0].tokenIds.length);
  });

  it("streams one finish per sequence, with the row's remaining text", async () => {
    const sampling: SamplingSettings = { ...SAMPLING_DEFAULTS, do_sample: true, top_k: 0 };
    const texts = ["", "", ""];
    const finished: number[] = [];
    const result = await generateWith(fakeModel({ eosBias: 13.2 }), options({
      sampling, numSequences: 3, maxNewTokens: 15,
      listener: { token: (i, _id, delta) => (texts[i] += delta), finish: (i, _r, delta) => { texts[i] += delta; finished.push(i); } },
    }));
    expect(texts).toEqual(result.sequences.map((s) => s.text));
    expect([...finished].sort()).toEqual([0, 1, 2]);
  });
});
