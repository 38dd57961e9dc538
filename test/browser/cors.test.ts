// What a page on another origin sees (README, "From a static web site"), in headless Chromium:
// with CORS_ORIGINS listing one origin, a page from that origin generates; a page from any other
// origin gets a bare TypeError from fetch — no status, no body — and the Worker generates nothing.
// Both pages come from small loopback servers on their own ports (distinct origins).
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startWranglerDev, type DevServer } from "./wrangler-dev";

const CHROMIUM = "/usr/bin/chromium";

/** A page whose script POSTs to the Worker with fetch and reports what happened in #result. */
function pageServer(port: number, apiUrl: string): Promise<Server> {
  const html = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><pre id="result">pending</pre>
<script type="module">
  const out = document.getElementById("result");
  try {
    const response = await fetch(${JSON.stringify(`${apiUrl}/v1/generate`)}, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "cross-origin", max_new_tokens: 3, cache: false }),
    });
    out.textContent = "status " + response.status;
  } catch (error) {
    out.textContent = error.name + ": " + error.message;
  }
</script>`;
  const server = createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(html));
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

describe.runIf(existsSync(CHROMIUM))("a page on another origin, in headless Chromium", () => {
  let api: DevServer;
  let allowed: Server;
  let denied: Server;
  let allowedOrigin: string;
  let deniedOrigin: string;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    const [allowedPort, deniedPort] = [await freePort(), await freePort()];
    allowedOrigin = `http://127.0.0.1:${allowedPort}`;
    deniedOrigin = `http://127.0.0.1:${deniedPort}`;
    api = await startWranglerDev({ vars: { CORS_ORIGINS: allowedOrigin } });
    allowed = await pageServer(allowedPort, api.url);
    denied = await pageServer(deniedPort, api.url);
    profile = await mkdtemp(path.join(tmpdir(), "edge-gpt2-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await context?.close();
    allowed?.close();
    denied?.close();
    await api?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const generations = () => api.output().match(/"route":"\/v1\/generate"/g)?.length ?? 0;

  it("an allowed origin generates", async () => {
    const page = await context.newPage();
    const before = generations();
    await page.goto(`${allowedOrigin}/`);
    await expect.poll(() => page.textContent("#result"), { timeout: 30_000 }).toBe("status 200");
    await expect.poll(generations, { timeout: 10_000 }).toBe(before + 1);
    await page.close();
  });

  it("another origin sees only a TypeError (no status, no body), the console names CORS, nothing is generated", async () => {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
    const before = generations();
    await page.goto(`${deniedOrigin}/`);
    await expect.poll(() => page.textContent("#result"), { timeout: 30_000 }).toBe("TypeError: Failed to fetch");
    expect(consoleErrors.join("\n")).toMatch(/blocked by CORS policy/);
    await page.waitForTimeout(500);
    expect(generations()).toBe(before);
    await page.close();
  });
});
