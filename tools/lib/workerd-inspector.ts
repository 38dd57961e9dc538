// Every Worker isolate of a multi-Worker `wrangler dev` (a sharded model: the front and each shard
// script, issue 14), reachable through the V8 inspector. wrangler's inspector proxy
// (--inspector-port) lists only the first Worker; workerd's own inspector, on a port of its own,
// lists each isolate as "core:user:<script name>". That port is found from the outside: the
// listening sockets of the workerd processes this process started (Linux /proc).
import { readdir, readFile, readlink } from "node:fs/promises";
import { workerdPids } from "../bench/workerd.js";

/** Script name → inspector WebSocket URL, for every user Worker of the workerd processes we started
 * (or that process `root` started: one `wrangler dev` of several). */
export async function workerInspectorUrls(root?: number): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const pid of await workerdPids(root)) {
    for (const port of await listeningPorts(pid)) {
      const targets = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) })
        .then((r) => (r.ok ? (r.json() as Promise<{ id?: string; webSocketDebuggerUrl?: string }[]>) : []))
        .catch(() => []);
      if (!Array.isArray(targets)) continue;
      for (const t of targets) {
        if (t.id?.startsWith("core:user:") && t.webSocketDebuggerUrl) found.set(t.id.slice("core:user:".length), t.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
      }
    }
  }
  return found;
}

/** The inspector URL of script `script` among `urls` (workerInspectorUrls); an error naming what is listed. */
export function inspectorUrlOf(urls: ReadonlyMap<string, string>, script: string): string {
  const url = urls.get(script);
  if (!url) throw new Error(`workerd's inspector lists no isolate ${script} (it lists ${[...urls.keys()].join(", ") || "none"})`);
  return url;
}

/** TCP ports process `pid` listens on (its socket inodes matched against /proc/net/tcp). */
async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    const lines = (await readFile(`/proc/${pid}/net/${table}`, "utf8").catch(() => "")).split("\n").slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // local_address rem_address st … inode; st 0A = LISTEN
      if (fields[3] === "0A" && inodes.has(fields[9])) ports.push(parseInt(fields[1].split(":")[1], 16));
    }
  }
  return ports;
}
