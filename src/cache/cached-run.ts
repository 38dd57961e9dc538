// Around one generation: serve a deterministic request from the response cache, share one run
// among identical requests in flight (coalescing), and store what a complete run produced.
// Streaming listeners of hits and coalesced followers get the cached run replayed.
import type { Limits } from "../config";
import type { GenerationListener } from "../generation/sequence";
import type { JobResult } from "../generation/scheduler";
import { replay } from "./replay";
import { ResponseCache, responseCacheKey, type CachedGeneration } from "./response-cache";

export type CacheSource = "model" | "memory" | "edge" | "coalesced";

export interface CachedRunResult {
  result: JobResult;
  /** "bypass": not cacheable (sampled without seed, logprobs) or the request opted out. */
  status: "hit" | "miss" | "bypass";
  source: CacheSource;
}

let cache: { limits: Limits; store: ResponseCache } | null = null;
const inflight = new Map<string, Promise<CachedGeneration | null>>();

function responseCache(limits: Limits): ResponseCache {
  if (cache?.limits !== limits) {
    const edge = typeof caches !== "undefined" ? (caches as unknown as { default: Cache }).default : null;
    cache = { limits, store: new ResponseCache(limits.responseCacheBytes, limits.responseCacheTtlSeconds, edge) };
  }
  return cache.store;
}

export async function cachedRun(
  limits: Limits,
  keyParts: Record<string, unknown> | null,
  listener: GenerationListener | undefined,
  run: () => Promise<JobResult>,
): Promise<CachedRunResult> {
  if (keyParts === null) return { result: await run(), status: "bypass", source: "model" };
  const key = await responseCacheKey(keyParts);
  const store = responseCache(limits);
  const hit = await store.get(key);
  if (hit) return { result: fromCache(hit.value, listener), status: "hit", source: hit.tier };

  const leader = inflight.get(key);
  if (leader) {
    const shared = await leader.catch(() => null);
    // The leader failed or was cut short: run on our own rather than fail with it.
    if (shared) return { result: fromCache(shared, listener), status: "hit", source: "coalesced" };
    return { result: await run(), status: "miss", source: "model" };
  }

  let result: JobResult | undefined;
  const shared = (async () => {
    result = await run();
    // A run cut short (deadline, client gone) is not the answer to this request in general.
    const complete = result.sequences.every((s) => s.finishReason === "stop" || s.finishReason === "length");
    if (!complete) return null;
    const value: CachedGeneration = { sequences: result.sequences, cachedTokens: result.cachedTokens };
    await store.put(key, value);
    return value;
  })();
  inflight.set(key, shared);
  try {
    await shared;
  } finally {
    inflight.delete(key);
  }
  return { result: result!, status: "miss", source: "model" };
}

function fromCache(value: CachedGeneration, listener: GenerationListener | undefined): JobResult {
  if (listener) replay(value.sequences, listener);
  return { sequences: value.sequences, waitMs: 0, prefillMs: 0, cachedTokens: value.cachedTokens, decodeMs: 0, steps: 0 };
}
