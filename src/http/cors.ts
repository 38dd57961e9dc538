// CORS for static sites calling the API from the browser. CORS_ORIGINS is a comma-separated
// allow-list of exact origins ("https://example.com"), or "*" for any origin; empty sends no
// CORS headers at all (browsers then refuse cross-origin calls). Preflights answer 204.
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app-env";

/** The Access-Control-Allow-Origin value for `origin`, or null when it is not allowed. */
export function allowedOrigin(allowList: readonly string[], origin: string): string | null {
  if (allowList.includes("*")) return "*";
  return origin !== "" && allowList.includes(origin) ? origin : null;
}

export function corsMiddleware(): MiddlewareHandler<AppEnv> {
  const withCors = cors({
    origin: (origin, c) => allowedOrigin(c.var.config.corsOrigins, origin),
    allowMethods: ["GET", "POST", "OPTIONS"],
    // No fixed allowHeaders: the preflight's requested headers are echoed, so clients such as the
    // openai package (which adds its own x-stainless-* headers) work from a browser too.
    // Scripts may read these: back off after a 429, quote the request id in a bug report, see where
    // the time went. (Server-Timing also needs Timing-Allow-Origin for PerformanceResourceTiming.)
    exposeHeaders: ["Retry-After", "X-Request-Id", "Server-Timing", "X-Cache"],
    maxAge: 600,
  });
  return async function corsMiddleware(c, next) {
    // A preflight is answered by the cors middleware itself (returned, not passed on).
    const answered = await withCors(c, next);
    if (answered) c.res = answered;
    // The same origins may see Server-Timing in PerformanceResourceTiming, not only as a header.
    const allowed = c.res.headers.get("access-control-allow-origin");
    if (allowed) c.res.headers.set("timing-allow-origin", allowed);
  };
}
