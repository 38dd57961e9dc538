import { describe, expect, it } from "vitest";
import { cachedRun } from "../../src/cache/cached-run";
import { replay } from "../../src/cache/replay";
import { ResponseCache, responseCacheKey } from "../../src/cache/response-cache";
import { loadConfig } from "../../src/config";
import type { JobResult } from "../../src/generation/scheduler";
import type { SequenceResult } from "../../src/generation/sequence";
import { decode, encode } from "../../src/tokenizer/index";

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

describe("cachedRun", () => {
  const limits = { ...loadConfig({}).limits, responseCacheTtlSeconds: 0 };

  it("coalesces identical requests in flight into one run, then serves later ones from memory", async () => {
    let runs = 0;
    const run = async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return result([sequence(" once")]);
    };
    const key = { test: "coalesce", n: Math.random() };
    const [a, b, c] = await Promise.all([cachedRun(limits, key, undefined, run), cachedRun(limits, key, undefined, run), cachedRun(limits, key, undefined, run)]);
    expect(runs).toBe(1);
    expect([a.source, b.source, c.source].sort()).toEqual(["coalesced", "coalesced", "model"]);
    expect(b.result.sequences).toEqual(a.result.sequences);
    const later = await cachedRun(limits, key, undefined, run);
    expect([later.status, later.source, runs]).toEqual(["hit", "memory", 1]);
  });

  it("never caches a run cut short, nor one that failed", async () => {
    let runs = 0;
    const key = { test: "cut", n: Math.random() };
    await cachedRun(limits, key, undefined, async () => (runs++, result([sequence(" partial", "time")])));
    await expect(cachedRun(limits, key, undefined, async () => { runs++; throw new Error("boom"); })).rejects.toThrow("boom");
    const third = await cachedRun(limits, key, undefined, async () => (runs++, result([sequence(" full")])));
    expect([third.status, runs]).toEqual(["miss", 3]);
  });

  it("bypasses the cache for non-deterministic requests", async () => {
    let runs = 0;
    const run = async () => (runs++, result([sequence(" x")]));
    await cachedRun(limits, null, undefined, run);
    const second = await cachedRun(limits, null, undefined, run);
    expect([second.status, runs]).toEqual(["bypass", 2]);
  });
});
