// The demo page in real headless Chromium (Debian's `chromium`, driven by playwright-core) against
// `wrangler dev`: type a prompt, press Generate, watch tokens stream in, press Stop — and the Worker
// reports that it stopped generating. Leaves a screenshot in artifacts/ (not in git).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
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
    // Ready once it serves a static file: the model is still unloaded for the first test.
    server = await startWranglerDev({ readyPath: "/client.js" });
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

  it("says 'loading model…' while the first request waits for the model, then 'generating…'", async () => {
    const page = await context.newPage();
    await page.addInitScript({ path: PROBES });
    await page.addInitScript("probes.recordStatuses('status')");
    await page.goto(`${server.url}/`);
    await page.fill("#max_new_tokens", "4");
    await page.click("[data-testid=generate]"); // the page's /v1/info has only just started the load
    await expect.poll(() => page.textContent("[data-testid=status]"), { timeout: 60_000 }).toMatch(/^done: /);
    const first = await statuses(page);
    expect(first[0]).toBe("loading model…");
    const generating = first.findIndex((s) => s.startsWith("generating…"));
    expect(generating).toBeGreaterThan(0);
    expect(first.slice(generating)).not.toContain("loading model…");
    // A request once the model is there says "generating…" at once.
    await page.evaluate("probes.statuses.length = 0");
    await page.click("[data-testid=generate]");
    await expect.poll(() => page.textContent("[data-testid=status]"), { timeout: 30_000 }).toMatch(/^done: /);
    expect((await statuses(page))[0]).toBe("generating…");
    await page.close();
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

  it("at 390 px a long URL and an unbroken run of tokens wrap instead of widening the page; no 404, no console error", async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    const problems: string[] = [];
    page.on("console", (message) => { if (message.type() === "error") problems.push(`console: ${message.text()}`); });
    page.on("response", (response) => { if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`); });
    page.on("requestfailed", (request) => problems.push(`failed ${request.url()}`));
    await page.addInitScript({ path: PROBES });
    await page.goto(`${server.url}/`);
    expect(await pageWidth(page)).toBe(390);

    const url = `https://example.com/${"a1b2c3".repeat(60)}?q=${"%20".repeat(40)}`;
    await page.fill("[data-testid=prompt]", `${url} ${"x".repeat(300)}`);
    await page.fill("#max_new_tokens", "60");
    await page.fill("#seed", "3");
    await page.click("[data-testid=generate]");
    await expect.poll(() => page.textContent("[data-testid=status]"), { timeout: 60_000 }).toMatch(/^done: /);
    expect(((await page.textContent("[data-testid=output]")) ?? "").length).toBeGreaterThan(url.length + 300);
    expect(await pageWidth(page)).toBe(390);
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-page-390px.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  for (const colorScheme of ["light", "dark"] as const) {
    it(`error text is readable (contrast ≥ 4.5:1 from computed styles, ${colorScheme}) and names the field once`, async () => {
      const page = await context.newPage();
      await page.emulateMedia({ colorScheme });
      await page.addInitScript({ path: PROBES });
      await page.goto(`${server.url}/`);
      await page.fill("#top_p", "3");
      await page.click("[data-testid=generate]");
      await expect.poll(() => page.getAttribute("[data-testid=status]", "class")).toContain("error");
      const text = (await page.textContent("[data-testid=status]"))!;
      expect(text.match(/top_p/g)).toHaveLength(1);
      const contrast = await contrastOf(page, "[data-testid=status]");
      expect(contrast.ratio, JSON.stringify(contrast)).toBeGreaterThanOrEqual(4.5);
      await page.close();
    });
  }
});

const PROBES = path.join(import.meta.dirname, "page-probes.js");

async function pageWidth(page: Page): Promise<number> {
  return (await page.evaluate("probes.pageWidth()")) as number;
}

async function contrastOf(page: Page, selector: string): Promise<{ ratio: number; color: string }> {
  return (await page.evaluate(`probes.contrastOf(${JSON.stringify(selector)})`)) as { ratio: number; color: string };
}

const statuses = async (page: Page) => (await page.evaluate("probes.statuses")) as string[];
