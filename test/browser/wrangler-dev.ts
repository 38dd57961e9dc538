// Starts the Worker exactly as README says, `npm run dev -- --port <port>`, on free ports (so
// parallel runs do not collide), waits until it serves, and keeps its output for assertions about
// what the Worker logged.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../tools/lib/free-port";

const root = path.resolve(import.meta.dirname, "../..");

export interface DevServer {
  url: string;
  /** Everything wrangler printed so far (the Worker's console output included). */
  output(): string;
  stop(): Promise<void>;
}

export { freePort };

export interface DevOptions {
  /** --var overrides. */
  vars?: Record<string, string>;
  /**
   * The path polled until it answers 200. /health loads the model; a test that wants to see the
   * first request wait for the model polls a static path (/client.js) instead.
   */
  readyPath?: string;
  /** Another Worker's wrangler config (default: this one's). */
  config?: string;
  /** Several Workers in one session (`-c` each; the first serves the port), instead of `config`. */
  configs?: string[];
  /** Local state (R2, Durable Objects) to run on, e.g. a bucket already filled; kept after stop(). */
  persistTo?: string;
  /** Extra environment for wrangler, e.g. WRANGLER_REGISTRY_PATH so sessions find each other. */
  env?: Record<string, string>;
}

export async function startWranglerDev(options: DevOptions = {}): Promise<DevServer> {
  const { vars = {}, readyPath = "/health" } = options;
  const port = await freePort();
  const persist = options.persistTo ?? (await mkdtemp(path.join(tmpdir(), "edge-gpt2-dev-")));
  const args = [
    "run", "dev", "--",
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()),
    "--persist-to", persist, "--show-interactive-dev-session=false", "--log-level", "log",
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ...(options.config ? ["--config", options.config] : []),
    ...(options.configs ?? []).flatMap((config) => ["-c", config]),
  ];
  // npm runs wrangler with the node@22 dev dependency, whatever Node runs the tests. Its own
  // process group, so stop() reaches wrangler and workerd under npm.
  const child: ChildProcess = spawn("npm", args, {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const url = `http://127.0.0.1:${port}`;
  const server: DevServer = {
    url,
    output: () => output,
    async stop() {
      const group = (signal: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // the group is gone already
        }
      };
      group("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      group("SIGKILL");
      if (!options.persistTo) await rm(persist, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}${readyPath}`)).ok) return server;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await server.stop();
  throw new Error(`wrangler dev did not serve ${url}${readyPath} within 90 s:\n${output}`);
}
