import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config";
import type { JobResult } from "../../src/engine/scheduler";
import type { SequenceResult } from "../../src/engine/sequence";
import { withResponseCache } from "../../src/generation/cached-service";
import { planGeneration } from "../../src/generation/plan";
import { replay } from "../../src/generation/replay";
import type { GenerateRequest } from "../../src/generation/request";
import { ResponseCache, responseCacheKey } from "../../src/generation/response-cache";
import type { GenerationOutcome, GenerationService } from "../../src/generation/service";
import { decode, encode } from "../../src/tokenizer/index";
import { fakeManifest } from "../engine/fake-model";

const result = (sequences: SequenceResult[]): JobResult => ({ sequences, waitMs: 1, prefillMs: 2, cachedTokens: 0, decodeMs: 3, steps: 4 });
const sequence = (text: string, finishReason: SequenceResult["finishReason"] = "length"): SequenceResult => ({ tokenIds: encode(text), text, finishReason });

describe("responseCacheKey", () => {
  it("is stable and changes with any part", async () => {
    const parts = { model: ["abc"], promptIds: [1, 2], sampling: { top_k: 50 }, penalties: { logit_bias: new Map([[5, 1], [2, 3]]) } };
    const same = { ...parts, penalties: { logit_bias: new Map([[2, 3], [5, 1]]) } };
    expect(await responseCacheKey(parts)).toBe(await responseCacheKey(same));
    expect(await responseCacheKey(parts)).not.toBe(await responseCacheKey({ ...parts, model: ["abd"] }));
    expect(await responseCacheKey(parts)).not.toBe(await responseCacheKey({ ...parts, promptIds: [1, 3] }));
  });
});

describe("ResponseCache (memory tier)", () => {
  it("returns what was stored and evicts the least recently used beyond its byte budget", async () => {
    const value = (text: string) => ({ sequences: [sequence(text)], cachedTokens: 0 });
    const size = (text: string) => JSON.stringify(value(text)).length * 2;
    const cache = new ResponseCache(size("aaaa") + Math.max(size("bbbb"), size("cccc")), 0, null);
    await cache.put("a", value("aaaa"));
    await cache.put("b", value("bbbb"));
    expect((await cache.get("a"))?.value).toEqual(value("aaaa")); // a is now the most recent
    await cache.put("c", value("cccc"));
    expect(await cache.get("b")).toBeNull();
    expect((await cache.get("c"))?.tier).toBe("memory");
  });
});

describe("replay", () => {
  it("streams deltas that add up to the final text, which a stop string may have cut", () => {
    const full = "Hello, world! 👋 more text";
    const cut: SequenceResult = { tokenIds: encode(full), text: "Hello, world", finishReason: "stop" };
    const out: string[] = [];
    let finished = "";
    replay([cut, sequence(full)], {
      token: (i, _id, delta) => (out[i] = (out[i] ?? "") + delta),
      finish: (i, reason, delta) => {
        out[i] = (out[i] ?? "") + delta;
        finished += `${i}:${reason} `;
      },
    });
    expect(out).toEqual(["Hello, world", full]);
    expect(finished).toBe("0:stop 1:length ");
    expect(decode(encode(full))).toBe(full);
  });
});

/** An inner service whose engine is fake: counts engine loads (prepare) and runs. */
function fakeService(runResult: () => Promise<JobResult>) {
  const counts = { prepares: 0, runs: 0 };
  const limits = loadConfig({}).limits;
  const manifest = fakeManifest();
  const service: GenerationService = {
    async plan(request, receivedAt = Date.now()) {
      return { request, plan: planGeneration(request, manifest, limits), manifest, receivedAt, plannedAt: receivedAt, tokenizeMs: 0 };
    },
    async prepare(planned) {
      counts.prepares++;
      return {
        planned,
        cacheStatus: "bypass",
        async run(): Promise<GenerationOutcome> {
          counts.runs++;
          const result = await runResult();
          return { modelName: "fake", plan: planned.plan, result, timings: {} as GenerationOutcome["timings"], cache: { status: "bypass", source: "model" } };
        },
      };
    },
  };
  return { service, counts };
}

describe("withResponseCache", () => {
  const cache = () => new ResponseCache(1 << 20, 0, null);
  const start = async (service: GenerationService, request: GenerateRequest) => (await service.prepare(await service.plan(request))).run();

  it("coalesces identical requests in flight into one run, then serves later ones without loading the engine", async () => {
    const { service: inner, counts } = fakeService(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return result([sequence(" once")]);
    });
    const service = withResponseCache(inner, cache());
    const request = { prompt: `coalesce ${Math.random()}` };
    const [a, b, c] = await Promise.all([start(service, request), start(service, request), start(service, request)]);
    expect(counts.runs).toBe(1);
    expect([a.cache.source, b.cache.source, c.cache.source].sort()).toEqual(["coalesced", "coalesced", "model"]);
    expect(b.result.sequences).toEqual(a.result.sequences);
    const preparesBefore = counts.prepares;
    const later = await start(service, request);
    expect([later.cache.status, later.cache.source, counts.runs]).toEqual(["hit", "memory", 1]);
    expect(counts.prepares).toBe(preparesBefore); // a hit never asks for the engine
  });

  it("never caches a run cut short, nor one that failed", async () => {
    let outcome: () => Promise<JobResult> = async () => result([sequence(" partial", "time")]);
    const { service: inner, counts } = fakeService(() => outcome());
    const service = withResponseCache(inner, cache());
    const request = { prompt: "cut" };
    await start(service, request);
    outcome = async () => { throw new Error("boom"); };
    await expect(start(service, request)).rejects.toThrow("boom");
    outcome = async () => result([sequence(" full")]);
    const third = await start(service, request);
    expect([third.cache.status, counts.runs]).toEqual(["miss", 3]);
  });

  it("bypasses the cache for sampling without a seed, logprobs, and cache: false", async () => {
    const { service: inner, counts } = fakeService(async () => result([sequence(" x")]));
    const service = withResponseCache(inner, cache());
    for (const request of [{ prompt: "s", do_sample: true }, { prompt: "l", logprobs: 2 }, { prompt: "c", cache: false }]) {
      await start(service, request);
      const second = await start(service, request);
      expect(second.cache.status, JSON.stringify(request)).toBe("bypass");
    }
    expect(counts.runs).toBe(6);
  });
});
