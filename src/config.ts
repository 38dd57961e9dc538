// Every limit and default in one place, read from wrangler vars. Each entry says what value
// disables it, or why it cannot be disabled. /health and the README echo these.

export interface Limits {
  /** Hard cap on generated tokens per sequence. Cannot be disabled: it bounds CPU and KV memory. */
  maxNewTokensCap: number;
  /** max_new_tokens when the request gives neither max_new_tokens nor max_length. */
  defaultMaxNewTokens: number;
  /** Wall-clock budget for one generation in ms; it ends with finish_reason "time". 0 = no budget. */
  generationTimeoutMs: number;
  /** Largest request body in bytes (413 above). Cannot be disabled. */
  maxBodyBytes: number;
  /** Largest num_return_sequences (one batched run); never above maxBatchSize. */
  maxReturnSequences: number;
  /** Most sequences decoded together in one batched step, across requests. 1 = no batching. */
  maxBatchSize: number;
  /** Most requests waiting for a batch slot; more → 503 with Retry-After. Cannot be disabled. */
  maxQueuedRequests: number;
  /** Bytes of prompt keys/values kept in the isolate for prefix reuse (at most a quarter of the KV
   * budget). 0 = disabled. */
  prefixCacheBytes: number;
  /** The isolate's memory (JS heap + ArrayBuffers + WASM): keys/values are admitted by the bytes left
   * after the loaded model and a JS reserve. Workers: 128 MB on every plan. 0 = no byte budget (rows only). */
  isolateMemoryBytes: number;
  /** Bytes of deterministic responses kept in the isolate. 0 = disabled. */
  responseCacheBytes: number;
  /** How long the data center's Cache API keeps deterministic responses. 0 = that tier disabled. */
  responseCacheTtlSeconds: number;
  /** Most stop strings per request, and the longest one in characters. */
  maxStopStrings: number;
  maxStopLength: number;
}

export interface Config {
  /** Where the model comes from: "assets:<dir>" (static assets), "fetcher:<BINDING>/<dir>". */
  model: string;
  limits: Limits;
  /** Origins allowed to call the API from a browser (CORS): exact origins, or "*" for any. Empty = no CORS headers. */
  corsOrigins: string[];
  /** Bearer keys accepted on the generation routes. Empty = no API key needed. */
  apiKeys: string[];
  /** Log prompts and generated text (LOG_PROMPTS="1"). Off by default: they are the users' data. */
  logPrompts: boolean;
  /** After a failed model load, wait this long before the next try, doubling per failure up to
   * MODEL_RETRY_MAX_MS; requests meanwhile get 503 with the last reason. 0 = retry on every request. */
  modelRetryMs: number;
}

/**
 * Kept out of the KV budget: the JS heap (code, tokenizer tables, requests, responses: 10–12 MiB
 * after loading distilgpt2, measured in workerd) and the ArrayBuffers besides the keys/values (2.5
 * MiB at rest, a few MiB of spent step buffers until V8's next GC) — 16 MiB — plus 8 MiB never
 * planned at all: the platform's limit is hard and V8 collects late, so the isolate aims at 120 MiB
 * of the 128 (npm run bench checks every sample against that).
 */
export const JS_RESERVE_BYTES = (16 + 8) * 1024 * 1024;

/** The longest wait between two model load attempts. */
export const MODEL_RETRY_MAX_MS = 60_000;

export const DEFAULT_MODEL = "assets:dev/tiny-int8";

const DEFAULT_LIMITS: Limits = {
  maxNewTokensCap: 512,
  defaultMaxNewTokens: 64,
  generationTimeoutMs: 25_000,
  maxBodyBytes: 128 * 1024,
  maxReturnSequences: 8,
  maxBatchSize: 8,
  maxQueuedRequests: 64,
  // Fits beside distilgpt2 int8 (~82 MB of weights) in a 128 MB isolate.
  prefixCacheBytes: 16 * 1024 * 1024,
  isolateMemoryBytes: 128 * 1024 * 1024,
  responseCacheBytes: 4 * 1024 * 1024,
  responseCacheTtlSeconds: 3600,
  maxStopStrings: 4,
  maxStopLength: 64,
};

/** The wrangler vars this module reads (all optional strings). */
export interface ConfigVars {
  MODEL?: string;
  MAX_NEW_TOKENS_CAP?: string;
  DEFAULT_MAX_NEW_TOKENS?: string;
  GENERATION_TIMEOUT_MS?: string;
  MAX_BODY_BYTES?: string;
  MAX_RETURN_SEQUENCES?: string;
  MAX_BATCH_SIZE?: string;
  MAX_QUEUED_REQUESTS?: string;
  PREFIX_CACHE_BYTES?: string;
  ISOLATE_MEMORY_BYTES?: string;
  RESPONSE_CACHE_BYTES?: string;
  RESPONSE_CACHE_TTL_SECONDS?: string;
  CORS_ORIGINS?: string;
  /** A Worker secret (`wrangler secret put API_KEYS`), not a var. */
  API_KEYS?: string;
  LOG_PROMPTS?: string;
  MODEL_RETRY_MS?: string;
}

/** "a, b,,c" → ["a", "b", "c"]. */
const listVar = (raw: string | undefined): string[] => (raw ?? "").split(",").map((item) => item.trim()).filter(Boolean);

function intVar(vars: ConfigVars, name: keyof ConfigVars, fallback: number, min: number): number {
  const raw = vars[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    // A broken deployment should say so loudly rather than run with surprising limits.
    throw new Error(`wrangler var ${name}=${JSON.stringify(raw)} must be an integer >= ${min}`);
  }
  return value;
}

const cache = new WeakMap<object, Config>();

/** `build`, run once per Limits object (one per env, see loadConfig): request schemas, docs. */
export function perLimits<T>(build: (limits: Limits) => T): (limits: Limits) => T {
  const built = new WeakMap<Limits, T>();
  return (limits) => {
    let value = built.get(limits);
    if (value === undefined) built.set(limits, (value = build(limits)));
    return value;
  };
}

/** Parse once per env object (env is stable for an isolate). */
export function loadConfig(vars: ConfigVars): Config {
  const hit = cache.get(vars);
  if (hit) return hit;
  const config: Config = {
    model: vars.MODEL || DEFAULT_MODEL,
    limits: {
      ...DEFAULT_LIMITS,
      maxNewTokensCap: intVar(vars, "MAX_NEW_TOKENS_CAP", DEFAULT_LIMITS.maxNewTokensCap, 1),
      defaultMaxNewTokens: intVar(vars, "DEFAULT_MAX_NEW_TOKENS", DEFAULT_LIMITS.defaultMaxNewTokens, 1),
      generationTimeoutMs: intVar(vars, "GENERATION_TIMEOUT_MS", DEFAULT_LIMITS.generationTimeoutMs, 0),
      maxBodyBytes: intVar(vars, "MAX_BODY_BYTES", DEFAULT_LIMITS.maxBodyBytes, 1024),
      maxReturnSequences: intVar(vars, "MAX_RETURN_SEQUENCES", DEFAULT_LIMITS.maxReturnSequences, 1),
      maxBatchSize: intVar(vars, "MAX_BATCH_SIZE", DEFAULT_LIMITS.maxBatchSize, 1),
      maxQueuedRequests: intVar(vars, "MAX_QUEUED_REQUESTS", DEFAULT_LIMITS.maxQueuedRequests, 1),
      prefixCacheBytes: intVar(vars, "PREFIX_CACHE_BYTES", DEFAULT_LIMITS.prefixCacheBytes, 0),
      isolateMemoryBytes: intVar(vars, "ISOLATE_MEMORY_BYTES", DEFAULT_LIMITS.isolateMemoryBytes, 0),
      responseCacheBytes: intVar(vars, "RESPONSE_CACHE_BYTES", DEFAULT_LIMITS.responseCacheBytes, 0),
      responseCacheTtlSeconds: intVar(vars, "RESPONSE_CACHE_TTL_SECONDS", DEFAULT_LIMITS.responseCacheTtlSeconds, 0),
    },
    corsOrigins: listVar(vars.CORS_ORIGINS),
    apiKeys: listVar(vars.API_KEYS),
    logPrompts: vars.LOG_PROMPTS === "1",
    modelRetryMs: intVar(vars, "MODEL_RETRY_MS", 1000, 0),
  };
  config.limits.defaultMaxNewTokens = Math.min(config.limits.defaultMaxNewTokens, config.limits.maxNewTokensCap);
  // One request's sequences always run in one batch.
  config.limits.maxReturnSequences = Math.min(config.limits.maxReturnSequences, config.limits.maxBatchSize);
  cache.set(vars, config);
  return config;
}

/** The limits as the API reports them (snake_case, like every other field). */
export function describeLimits(limits: Limits): Record<string, number> {
  return {
    max_new_tokens_cap: limits.maxNewTokensCap,
    default_max_new_tokens: limits.defaultMaxNewTokens,
    generation_timeout_ms: limits.generationTimeoutMs,
    max_body_bytes: limits.maxBodyBytes,
    max_return_sequences: limits.maxReturnSequences,
    max_batch_size: limits.maxBatchSize,
    max_queued_requests: limits.maxQueuedRequests,
    prefix_cache_bytes: limits.prefixCacheBytes,
    isolate_memory_bytes: limits.isolateMemoryBytes,
    response_cache_bytes: limits.responseCacheBytes,
    response_cache_ttl_seconds: limits.responseCacheTtlSeconds,
    max_stop_strings: limits.maxStopStrings,
    max_stop_length: limits.maxStopLength,
  };
}
