// Access control for the generation routes: optional API keys (Worker secret API_KEYS, sent as
// `Authorization: Bearer <key>`) and rate limiting through the Workers Rate Limiting binding
// (RATE_LIMITER), counted per API key, or per client IP when no keys are configured.
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";

// The binding's period is 10 or 60 s and not visible at runtime: 60 s is always long enough.
const RETRY_AFTER_SECONDS = "60";

export function accessControl(): MiddlewareHandler<AppEnv> {
  return async function accessControl(c, next) {
    const { apiKeys } = c.var.config;
    let limitKey: string | null = null;
    if (apiKeys.length > 0) {
      const presented = bearerToken(c);
      if (presented === null || !(await matchesAnyKey(presented, apiKeys))) {
        throw new ApiError(401, "authentication_error", presented === null
          ? "this server needs an API key: send Authorization: Bearer <key>"
          : "the API key is not valid", null, { "WWW-Authenticate": "Bearer" });
      }
      // Never the key itself: rate-limit keys may show up in Cloudflare's analytics.
      limitKey = `key:${hex(await sha256(presented)).slice(0, 32)}`;
    } else {
      // Cloudflare always sets CF-Connecting-IP at the edge; local calls and tests have none.
      const ip = c.req.header("CF-Connecting-IP");
      if (ip) limitKey = `ip:${ip}`;
    }
    // Optional: a deployment without the binding simply has no rate limit.
    const limiter = (c.env as Partial<Env>).RATE_LIMITER;
    if (limiter && limitKey !== null) {
      const { success } = await limiter.limit({ key: limitKey });
      if (!success) {
        throw new ApiError(429, "rate_limit_exceeded", `too many requests; retry after ${RETRY_AFTER_SECONDS} seconds`, null, { "Retry-After": RETRY_AFTER_SECONDS });
      }
    }
    await next();
  };
}

function bearerToken(c: Context<AppEnv>): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "");
  return match ? match[1] : null;
}

/**
 * Compares digests, not the keys: equal lengths, and every configured key is checked, so the time
 * taken says nothing about how much of a key was right or which key matched.
 */
async function matchesAnyKey(presented: string, keys: string[]): Promise<boolean> {
  const given = await sha256(presented);
  let matched = false;
  for (const key of keys) matched = timingSafeEqual(given, await sha256(key)) || matched;
  return matched;
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean };
  if (subtle.timingSafeEqual) return subtle.timingSafeEqual(a, b); // workerd's constant-time compare
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
