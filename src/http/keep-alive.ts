// workerd abandons a request's pending work when its client disconnects: promises started for
// it never settle. A generation abandoned mid-step would leave the model's shared decode loop
// waiting forever, and every later request in the isolate would hang. waitUntil() keeps the
// request's context alive until the generation has ended — which, with the request's abort
// signal, is within one step of the disconnect.
import type { Context } from "hono";

export function keepAlive(c: Context, work: Promise<unknown>): void {
  let waitUntil: (promise: Promise<unknown>) => void;
  try {
    const ctx = c.executionCtx;
    waitUntil = ctx.waitUntil.bind(ctx);
  } catch {
    return; // app.request() without an ExecutionContext (tests): nothing to keep alive
  }
  waitUntil(work.catch(() => undefined));
}
