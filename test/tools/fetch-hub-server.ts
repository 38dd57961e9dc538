// A stand-in for the Hugging Face hub on loopback, with the hub's URL layout and headers:
//   GET  /api/models/{repo}/tree/{revision}?recursive=true   listing with lfs.oid (sha256) and sizes
//   HEAD|GET /{repo}/resolve/{revision}/{path}              small files: 200 + ETag (git blob id);
//                                                           LFS files: 302 to the CDN with
//                                                           X-Linked-Etag / X-Linked-Size / ETag
//   unknown repo                                             404 + X-Error-Code: RepoNotFound
// The CDN is a second listener (another origin, like the real one), honours Range requests
// (206 / 416) and refuses requests that carry the hub token. Faults are switched on per test.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Faults {
  /** Paths whose next CDN download sends half the bytes, then drops the connection. */
  dropOnce: Set<string>;
  /** Paths served with one byte flipped (the announced sha256 stays the original). */
  corrupt: Set<string>;
  /** The CDN answers every Range request with the whole file (200). */
  ignoreRange: boolean;
}

export interface LoggedRequest {
  origin: "hub" | "cdn";
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

export interface FakeHub {
  endpoint: string;
  faults: Faults;
  log: LoggedRequest[];
  /** repo id → (path → bytes). Mutable: tests add repos. */
  repos: Map<string, Map<string, Uint8Array>>;
  close(): Promise<void>;
}

const memo = new WeakMap<Uint8Array, Record<string, string>>();
const remember = (b: Uint8Array, kind: string, compute: () => string) => {
  const known = memo.get(b) ?? {};
  memo.set(b, known);
  return (known[kind] ??= compute());
};
const sha256 = (b: Uint8Array) => remember(b, "sha256", () => createHash("sha256").update(b).digest("hex"));
const gitBlobId = (b: Uint8Array) => remember(b, "git", () => createHash("sha1").update(`blob ${b.byteLength}\0`).update(b).digest("hex"));
/** The hub keeps binaries and large files in LFS. */
const isLfs = (path: string, bytes: Uint8Array) => /\.(safetensors|onnx|onnx_data.*)$/.test(path) || bytes.byteLength > 10_000_000;

export async function startFakeHub(options: { token?: string } = {}): Promise<FakeHub> {
  const faults: Faults = { dropOnce: new Set(), corrupt: new Set(), ignoreRange: false };
  const log: LoggedRequest[] = [];
  const repos = new Map<string, Map<string, Uint8Array>>();
  let cdnOrigin = "";

  const record = (origin: "hub" | "cdn", req: IncomingMessage) =>
    log.push({ origin, method: req.method!, path: decodeURIComponent(req.url!), range: req.headers.range ?? null, authorization: req.headers.authorization ?? null });

  const hub = createServer((req, res) => {
    record("hub", req);
    const url = new URL(req.url!, "http://hub");
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) return error(res, 401, "RepoNotFound", "Repository not found");
    const tree = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/);
    if (tree) {
      const files = repos.get(tree[1]);
      if (!files) return error(res, 404, "RepoNotFound", "Repository not found");
      const entries = [...files].map(([path, bytes]) => ({
        type: "file",
        oid: gitBlobId(bytes),
        size: bytes.byteLength,
        path,
        ...(isLfs(path, bytes) ? { lfs: { oid: sha256(bytes), size: bytes.byteLength, pointerSize: 134 } } : {}),
      }));
      return json(res, entries);
    }
    const resolve = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (!resolve) return error(res, 404, null, "Not found");
    const files = repos.get(resolve[1]);
    if (!files) return error(res, 404, "RepoNotFound", "Repository not found");
    const path = decodeURIComponent(resolve[3]);
    const bytes = files.get(path);
    if (!bytes) return error(res, 404, "EntryNotFound", `${path} does not exist on "${resolve[2]}"`);
    const common = { "x-repo-commit": "0123456789abcdef0123456789abcdef01234567" };
    if (isLfs(path, bytes)) {
      res.writeHead(302, {
        ...common,
        location: `${cdnOrigin}/cdn/${resolve[1]}/${encodeURIComponent(path)}?signature=abc`,
        "x-linked-etag": `"${sha256(bytes)}"`,
        "x-linked-size": String(bytes.byteLength),
        etag: `"${sha256(bytes)}"`,
      });
      return res.end();
    }
    res.writeHead(200, { ...common, etag: `"${gitBlobId(bytes)}"`, "content-length": String(bytes.byteLength) });
    res.end(req.method === "HEAD" ? undefined : bytes);
  });

  const cdn = createServer((req, res) => {
    record("cdn", req);
    if (req.headers.authorization) return error(res, 400, null, "presigned URLs take no Authorization header");
    const match = new URL(req.url!, "http://cdn").pathname.match(/^\/cdn\/([^/]+\/[^/]+)\/(.+)$/);
    const path = match ? decodeURIComponent(match[2]) : "";
    const original = match ? repos.get(match[1])?.get(path) : undefined;
    if (!original) return error(res, 404, null, "NoSuchKey");
    const bytes = faults.corrupt.has(path) ? flipOneByte(original) : original;
    let start = 0;
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (range && !faults.ignoreRange) {
      start = Number(range[1]);
      if (start >= bytes.byteLength) {
        res.writeHead(416, { "content-range": `bytes */${bytes.byteLength}` });
        return res.end();
      }
      res.writeHead(206, { "content-range": `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}`, "content-length": String(bytes.byteLength - start) });
    } else {
      res.writeHead(200, { "content-length": String(bytes.byteLength), "accept-ranges": "bytes" });
    }
    const body = bytes.subarray(start);
    if (faults.dropOnce.delete(path)) {
      // Half the body, a pause so the client has consumed it (a stream that errors drops what it
      // has queued), then a close before Content-Length bytes were sent.
      res.write(body.subarray(0, Math.floor(body.byteLength / 2)), () => setTimeout(() => res.socket?.destroy(), 300));
      return;
    }
    res.end(req.method === "HEAD" ? undefined : body);
  });

  const hubPort = await listen(hub);
  cdnOrigin = `http://127.0.0.1:${await listen(cdn)}`;
  return {
    endpoint: `http://127.0.0.1:${hubPort}`,
    faults,
    log,
    repos,
    close: () => Promise.all([close(hub), close(cdn)]).then(() => undefined),
  };
}

function flipOneByte(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[copy.length >> 1] ^= 0xff;
  return copy;
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: string | null, message: string): void {
  res.writeHead(status, { "content-type": "application/json", ...(code ? { "x-error-code": code } : {}) });
  res.end(JSON.stringify({ error: message }));
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
