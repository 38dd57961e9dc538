// The Worker under load: `wrangler dev` on a free loopback port, started from a copy of
// wrangler.toml with the changes a load test needs, and always stopped again (also on Ctrl-C and
// errors). The Worker is bundled once first and served with --no-bundle: `wrangler dev` reloads
// on every source change, and a reload in the middle of a run would fail requests that did nothing
// wrong. Everything it writes stays under .cache/loadtest/ so other `wrangler dev`s are untouched.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { experimental_readRawConfig } from "wrangler";
import { freePort } from "../lib/free-port";

const ROOT = resolve(import.meta.dirname, "../..");
const WORK_DIR = resolve(ROOT, ".cache/loadtest");

export interface RunningServer {
  url: string;
  /** wrangler dev's V8 inspector proxy (ws://127.0.0.1:<port>): the isolate's memory, see tools/lib/isolate-memory.ts. */
  inspectorPort: number;
  /** The wrangler dev process group's id (npx → wrangler → workerd), to find workerd's RSS. */
  pid: number;
  /** Where wrangler dev's whole output goes. */
  logPath: string;
  /** The /health body: model name, limits. */
  health: { model: { name: string; context_window: number }; limits: Record<string, number> };
  stop(): Promise<void>;
}

export { freePort };

/**
 * wrangler.toml as it is now (bundled, see above), with three changes:
 * - MODEL is the one under test;
 * - the response cache is off (RESPONSE_CACHE_BYTES / _TTL_SECONDS = 0): a deterministic request
 *   is sent twice (alone, then under load) and a cached answer would hide cross-talk;
 * - the rate limit is raised so one client IP can send thousands of requests (the binding stays,
 *   so its cost is still part of every request).
 */
function writeLoadTestConfig(model: string): string {
  const { rawConfig } = experimental_readRawConfig({ config: resolve(ROOT, "wrangler.toml") });
  const config = structuredClone(rawConfig) as Record<string, any>;
  config.main = resolve(ROOT, config.main);
  if (config.assets?.directory) config.assets.directory = resolve(ROOT, config.assets.directory);
  config.vars = { ...config.vars, MODEL: model, RESPONSE_CACHE_BYTES: "0", RESPONSE_CACHE_TTL_SECONDS: "0" };
  config.ratelimits = (config.ratelimits ?? []).map((limit: any) => ({ ...limit, simple: { ...limit.simple, limit: 1_000_000_000 } }));
  mkdirSync(WORK_DIR, { recursive: true });
  const sourceConfig = resolve(WORK_DIR, "wrangler.source.json");
  writeFileSync(sourceConfig, JSON.stringify(config, null, 2));

  // Freeze the code as it is now: bundle, then serve the bundle (its wasm is a CompiledWasm module).
  const bundleDir = resolve(WORK_DIR, "bundle");
  rmSync(bundleDir, { recursive: true, force: true });
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", bundleDir, "-c", sourceConfig], { cwd: ROOT, stdio: "pipe" });
  const served = {
    ...config,
    main: resolve(bundleDir, "index.js"),
    no_bundle: true,
    rules: [{ type: "CompiledWasm", globs: ["**/*.wasm"], fallthrough: false }, { type: "ESModule", globs: ["**/*.js"] }],
  };
  const path = resolve(WORK_DIR, "wrangler.json");
  writeFileSync(path, JSON.stringify(served, null, 2));
  return path;
}

const live = new Set<ChildProcess>();

/** Kill the whole process group (npx → wrangler → workerd). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function cleanupOnExit(): void {
  for (const child of live) killGroup(child, "SIGKILL");
}
process.once("exit", cleanupOnExit);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping wrangler dev`);
    cleanupOnExit();
    process.exit(130);
  });
}

export async function startServer(model: string, options: { startupTimeoutMs?: number } = {}): Promise<RunningServer> {
  const configPath = writeLoadTestConfig(model);
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const args = [
    "wrangler", "dev", "-c", configPath, "--port", String(port), "--ip", "127.0.0.1",
    "--inspector-port", String(inspectorPort), "--persist-to", resolve(WORK_DIR, "state"),
    "--show-interactive-dev-session=false",
  ];
  const child = spawn("npx", args, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const logPath = resolve(WORK_DIR, "wrangler-dev.log");
  const logFile = createWriteStream(logPath);
  let log = "";
  const keep = (chunk: Buffer) => {
    logFile.write(chunk);
    log = (log + chunk.toString()).slice(-8000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));

  const stop = async () => {
    killGroup(child, "SIGTERM");
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    live.delete(child);
    logFile.end();
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startupTimeoutMs ?? 120_000);
  let last = "no answer yet";
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
      try {
        const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(30_000) });
        const text = await response.text();
        if (response.status === 200) return { url, inspectorPort, pid: child.pid!, logPath, health: JSON.parse(text), stop };
        last = `HTTP ${response.status}: ${text.slice(0, 300)}`;
        // 503 with a reason (model missing or corrupt) will not fix itself.
        if (response.status === 503) throw new Error(`/health answered ${last}`);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith("/health answered")) throw error;
      }
      await new Promise((done) => setTimeout(done, 300));
    }
    throw new Error(`wrangler dev did not answer /health within the startup timeout (last: ${last})`);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- wrangler dev output (tail) ---\n${log}`);
  }
}
