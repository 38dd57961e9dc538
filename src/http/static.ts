// GET / (demo page) and GET /client.js (the browser client), served from strings in the bundle.
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { CLIENT_JS } from "../public/client";
import { DEMO_HTML } from "../public/demo-page";

// Short caching: the files change with deployments, and an ETag would need hashing at startup.
const CACHE = "public, max-age=300";

export function handleDemoPage(c: Context<AppEnv>): Response {
  return c.body(DEMO_HTML, 200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": CACHE });
}

export function handleClientJs(c: Context<AppEnv>): Response {
  return c.body(CLIENT_JS, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": CACHE });
}
