// The response cache around the generation service: a deterministic request (greedy, or sampled
// with a seed) already answered is replayed from the cache — before the engine is even loaded —
// and identical requests in flight share one run (coalescing). Streaming listeners of hits and
// coalesced followers get the cached run replayed token by token.
import type { Limits } from "../config";
import type { JobResult } from "../engine/scheduler";
import { replay } from "./replay";
import { ResponseCache, responseCacheKey, type CachedGeneration } from "./response-cache";
import type { GenerationOutcome, GenerationService, PlannedGeneration, PreparedGeneration, RunOptions } from "./service";

let store: { limits: Limits; cache: ResponseCache } | null = null;
const inflight = new Map<string, Promise<CachedGeneration | null>>();

/** The isolate's response cache for these limits (memory tier + the data center's Cache API). */
export function responseCacheFor(limits: Limits): ResponseCache {
  if (store?.limits !== limits) {
    const edge = typeof caches !== "undefined" ? (caches as unknown as { default: Cache }).default : null;
    store = { limits, cache: new ResponseCache(limits.responseCacheBytes, limits.responseCacheTtlSeconds, edge) };
  }
  return store.cache;
}

export function withResponseCache(inner: GenerationService, cache: ResponseCache): GenerationService {
  return {
    plan: (request, receivedAt) => inner.plan(request, receivedAt),
    async prepare(planned) {
      const parts = cacheKeyParts(planned);
      if (parts === null) return inner.prepare(planned);
      const key = await responseCacheKey(parts);
      const hit = await cache.get(key);
      if (hit) return { planned, cacheStatus: "hit", run: async (options = {}) => fromCache(planned, hit.value, hit.tier, options) };
      const prepared = await inner.prepare(planned);
      // Identical requests in flight answer this one (as a hit) unless the leader is cut short.
      const cacheStatus = inflight.has(key) ? "hit" : "miss";
      return { planned, cacheStatus, run: (options = {}) => coalesced(key, cache, prepared, options) };
    },
  };
}

async function coalesced(key: string, cache: ResponseCache, prepared: PreparedGeneration, options: RunOptions): Promise<GenerationOutcome> {
  const leader = inflight.get(key);
  if (leader) {
    const shared = await leader.catch(() => null);
    // The leader failed or was cut short: run on our own rather than fail with it.
    if (shared) return fromCache(prepared.planned, shared, "coalesced", options);
    return missed(await prepared.run(options));
  }
  let outcome: GenerationOutcome | undefined;
  const shared = (async () => {
    outcome = await prepared.run(options);
    // A run cut short (deadline, client gone) is not the answer to this request in general.
    const complete = outcome.result.sequences.every((s) => s.finishReason === "stop" || s.finishReason === "length");
    if (!complete) return null;
    const value: CachedGeneration = { sequences: outcome.result.sequences, cachedTokens: outcome.result.cachedTokens };
    await cache.put(key, value);
    return value;
  })();
  inflight.set(key, shared);
  try {
    await shared;
  } finally {
    inflight.delete(key);
  }
  return missed(outcome!);
}

const missed = (outcome: GenerationOutcome): GenerationOutcome => ({ ...outcome, cache: { status: "miss", source: "model" } });

function fromCache(planned: PlannedGeneration, value: CachedGeneration, source: "memory" | "edge" | "coalesced", options: RunOptions): GenerationOutcome {
  if (options.listener) replay(value.sequences, options.listener);
  const result: JobResult = { sequences: value.sequences, waitMs: 0, prefillMs: 0, cachedTokens: value.cachedTokens, decodeMs: 0, steps: 0 };
  return {
    modelName: planned.manifest.name,
    plan: planned.plan,
    result,
    timings: {
      queue_ms: 0, tokenize_ms: planned.tokenizeMs, prefill_ms: 0, decode_ms: 0, total_ms: Date.now() - planned.receivedAt,
      decode_steps: 0, decode_tokens_per_second: null, cache: source,
    },
    cache: { status: "hit", source },
  };
}

/**
 * Everything that decides a deterministic request's output, or null when the request is not
 * cacheable (sampled without a seed, wants log-probabilities, or opted out). The model's identity
 * is every file's sha256 from its manifest, so new weights never get an old model's text.
 */
function cacheKeyParts({ plan, manifest }: PlannedGeneration): Record<string, unknown> | null {
  if (!plan.deterministic || !plan.cacheAllowed || plan.logprobs !== undefined) return null;
  return {
    model: manifest.files.map((f) => f.sha256),
    promptIds: plan.promptIds,
    maxNewTokens: plan.maxNewTokens,
    numSequences: plan.numSequences,
    sampling: plan.sampling,
    seed: plan.sampling.do_sample ? plan.seed : null,
    stop: plan.stop,
    eos: plan.eosTokenId,
    penalties: plan.penalties ?? null,
  };
}
