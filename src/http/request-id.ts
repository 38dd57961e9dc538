// Every response carries `x-request-id`: the client's own id when it sent a sane one (so a trace
// can span a caller's logs and ours), otherwise a new one. The same id is in our log lines, in
// error bodies (`error.request_id`) and in Analytics Engine data points.
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";

export const REQUEST_ID_HEADER = "x-request-id";

// Bounded and plain: an id ends up in logs and headers, so no spaces, quotes or control characters.
const SANE_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/** The client's id if it is sane, else a new random one. */
export function acceptedRequestId(sent: string | null | undefined): string {
  return sent != null && SANE_ID.test(sent) ? sent : crypto.randomUUID();
}

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function requestId(c, next) {
    const id = acceptedRequestId(c.req.header(REQUEST_ID_HEADER));
    c.set("requestId", id);
    await next();
    // After the route (or onError) built the response: every response gets it, preflights too.
    try {
      c.res.headers.set(REQUEST_ID_HEADER, id);
    } catch {
      // A response with immutable headers (one passed through from fetch()): copy it.
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set(REQUEST_ID_HEADER, id);
    }
  };
}
