// Runs the bench Worker (worker.ts) in workerd via wrangler's unstable_dev, serves model
// folders to it over local HTTP, and reads the workerd process's resident memory from /proc.
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve, sep } from "node:path";
import { unstable_dev } from "wrangler";
import { freePort } from "../lib/free-port.js";

const CONFIG = resolve(import.meta.dirname, "wrangler.toml");
const ENTRY = resolve(import.meta.dirname, "worker.ts");

export interface BenchWorker {
  /** POST a JSON body to the bench Worker and return its JSON answer. */
  call<T>(path: string, body: Record<string, unknown>): Promise<T>;
  /** A request that only enters the isolate (the inspector's queued GC runs then). */
  ping(): Promise<unknown>;
  /** Current and peak resident set size of the workerd process, bytes. */
  rss(): Promise<{ current: number; peak: number }>;
  origin: string;
  /** V8 inspector of the isolate (tools/lib/isolate-memory.ts reads its memory through it). */
  inspectorPort: number;
  close(): Promise<void>;
}

/** Starts a fresh workerd (fresh isolate: nothing loaded) serving the model folders under `root`. */
export async function startBenchWorker(root: string): Promise<BenchWorker> {
  const server = await serveFolder(resolve(root));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const before = new Set(await workerdPids());
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false"; // no network here: skip fetching Request.cf
  // No file watching: other people edit src/ while benchmarks run, and a rebuild would restart
  // the Worker mid-measurement.
  const inspectorPort = await freePort();
  const worker = await unstable_dev(ENTRY, {
    config: CONFIG,
    inspectorPort,
    logLevel: "warn",
    experimental: { disableExperimentalWarning: true, watch: false, disableDevRegistry: true },
  });
  return {
    origin,
    inspectorPort,
    async call<T>(path: string, body: Record<string, unknown>): Promise<T> {
      const response = await worker.fetch(`http://bench${path}`, { method: "POST", body: JSON.stringify({ origin, ...body }) });
      const text = await response.text();
      if (!response.ok) throw new Error(`bench worker ${path}: HTTP ${response.status}: ${text.slice(0, 500)}`);
      return JSON.parse(text) as T;
    },
    ping: () => worker.fetch("http://bench/ping").then((r) => r.text()),
    async rss() {
      // wrangler may start more than one workerd; the one running our isolate is the largest.
      let best = { current: NaN, peak: NaN };
      for (const pid of (await workerdPids()).filter((p) => !before.has(p))) {
        const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
        const kb = (key: string) => Number(/\d+/.exec(status.split("\n").find((l) => l.startsWith(key)) ?? "")?.[0] ?? NaN) * 1024;
        if (!(kb("VmHWM:") <= best.peak)) best = { current: kb("VmRSS:"), peak: kb("VmHWM:") };
      }
      return best;
    },
    async close() {
      await worker.stop();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** workerd processes that descend from this process (the one we start is the new one). */
export async function workerdPids(root = process.pid): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      if (stat.includes("(workerd)") && (await descendsFrom(Number(entry), root))) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}

async function descendsFrom(pid: number, root: number): Promise<boolean> {
  for (let p = pid, hops = 0; p > 1 && hops < 10; hops++) {
    if (p === root) return true;
    const stat = await readFile(`/proc/${p}/stat`, "utf8");
    p = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  return false;
}

function serveFolder(root: string): Promise<Server> {
  const server = createServer(async (req, res) => {
    const file = resolve(join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    try {
      if (!file.startsWith(root + sep)) throw new Error("outside the model folder");
      res.writeHead(200, { "content-length": (await stat(file)).size });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}
