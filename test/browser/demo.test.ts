// The demo page in real headless Chromium (Debian's `chromium`, driven by playwright-core) against
// `wrangler dev`: type a prompt, press Generate, watch tokens stream in, press Stop — and the Worker
// reports that it stopped generating. Leaves a screenshot in artifacts/ (not in git).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type DevServer } from "./wrangler-dev";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.resolve(import.meta.dirname, "../../artifacts");
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
  console.warn(`[browser] ${CHROMIUM} not found (apt-get install chromium): the browser test is skipped`);
}

describe.runIf(available)("demo page in headless Chromium", () => {
  let server: DevServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    server = await startWranglerDev();
    profile = await mkdtemp(path.join(tmpdir(), "edge-gpt2-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
      viewport: { width: 1000, height: 760 },
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("streams tokens into the page and the stop button stops them", async () => {
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.textContent("#model")).toMatch(/^Model .* server \d/);

    await page.fill("[data-testid=prompt]", "The history of the printing press");
    await page.fill("#max_new_tokens", "500");
    await page.fill("#seed", "7");
    await page.click("[data-testid=generate]");

    // Text arrives in pieces: the generated span grows while the generation runs.
    const generated = page.locator("[data-testid=generated]");
    const lengths = new Set<number>();
    await expect.poll(async () => {
      lengths.add(((await generated.textContent()) ?? "").length);
      return [...lengths].filter((n) => n > 0).length;
    }, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(3);
    expect(await page.isDisabled("[data-testid=generate]")).toBe(true);

    await page.click("[data-testid=stop]");
    await expect.poll(() => page.textContent("[data-testid=status]"), { timeout: 10_000 }).toMatch(/^stopped after \d+ tokens$/);
    const stoppedText = await generated.textContent();
    const tokens = Number(/(\d+)/.exec((await page.textContent("[data-testid=status]"))!)![1]);
    expect(tokens).toBeGreaterThan(0);
    expect(tokens).toBeLessThan(500);
    expect(await page.isDisabled("[data-testid=stop]")).toBe(true);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-page.png"), fullPage: true });

    // Nothing more arrives, and the Worker's own log says the decode loop ended as cancelled.
    await page.waitForTimeout(500);
    expect(await generated.textContent()).toBe(stoppedText);
    await expect.poll(() => server.output(), { timeout: 10_000 }).toMatch(/"route":"\/v1\/generate".*"finish_reasons":\["cancelled"\]/);
    expect(pageErrors).toEqual([]);
  });
});
