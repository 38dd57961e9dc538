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
  /** Largest num_return_sequences (one batched run). */
  maxReturnSequences: number;
  /** Most stop strings per request, and the longest one in characters. */
  maxStopStrings: number;
  maxStopLength: number;
}

export interface Config {
  /** Where the model comes from: "assets:<dir>" (static assets), "fetcher:<BINDING>/<dir>". */
  model: string;
  limits: Limits;
}

export const DEFAULT_MODEL = "assets:dev/tiny-int8";

const DEFAULT_LIMITS: Limits = {
  maxNewTokensCap: 512,
  defaultMaxNewTokens: 64,
  generationTimeoutMs: 25_000,
  maxBodyBytes: 128 * 1024,
  maxReturnSequences: 8,
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
}

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
    },
  };
  config.limits.defaultMaxNewTokens = Math.min(config.limits.defaultMaxNewTokens, config.limits.maxNewTokensCap);
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
    max_stop_strings: limits.maxStopStrings,
    max_stop_length: limits.maxStopLength,
  };
}
