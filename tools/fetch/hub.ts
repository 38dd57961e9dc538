// The Hugging Face hub as huggingface_hub talks to it: files at
// `{endpoint}/{repo}/resolve/{revision}/{path}`, a listing at
// `{endpoint}/api/models/{repo}/tree/{revision}`. For an LFS file the resolve URL answers with a
// redirect to a CDN and reports the file's sha256 in `X-Linked-Etag` and its size in
// `X-Linked-Size`; the listing carries the same sha256 as `lfs.oid`.

import { fetchExplained } from "./network.js";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Short names for the checkpoints we document, mapped to their hub repositories. */
export const SHORT_NAMES: Record<string, string> = {
  gpt2: "openai-community/gpt2",
  distilgpt2: "distilbert/distilgpt2",
  "gpt2-medium": "openai-community/gpt2-medium",
};

export interface HubFile {
  path: string;
  size: number;
  /** sha256 (hex) of LFS files; null for small files kept in git. */
  sha256: string | null;
}

/** Where to download one file from, and what the hub says about it. */
export interface ResolvedFile {
  url: string;
  /** Headers for that URL: the token is only sent to the hub itself, never to its CDN. */
  headers: Record<string, string>;
  size: number | null;
  sha256: string | null;
}

export class HubError extends Error {
  override name = "HubError";
}

export interface HubOptions {
  repo: string;
  revision?: string;
  endpoint?: string;
  token?: string;
}

export class HubRepo {
  readonly repo: string;
  readonly revision: string;
  readonly endpoint: string;
  private readonly token: string | undefined;

  constructor(options: HubOptions) {
    if (!/^[\w.-]+(\/[\w.-]+)?$/.test(options.repo)) throw new HubError(`"${options.repo}" is not a hub repository id (owner/name)`);
    this.repo = SHORT_NAMES[options.repo] ?? options.repo;
    this.revision = options.revision ?? "main";
    this.endpoint = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
    this.token = options.token || undefined;
  }

  /** The hub's resolve URL for a file (revision may contain "/", e.g. refs/pr/1). */
  resolveUrl(path: string): string {
    const file = path.split("/").map(encodeURIComponent).join("/");
    return `${this.endpoint}/${this.repo}/resolve/${encodeURIComponent(this.revision)}/${file}`;
  }

  /** Every file of the revision, following the listing's pagination (Link: rel="next"). */
  async listFiles(): Promise<HubFile[]> {
    const files: HubFile[] = [];
    let url: string | null = `${this.endpoint}/api/models/${this.repo}/tree/${encodeURIComponent(this.revision)}?recursive=true`;
    while (url) {
      const response = await fetchExplained(url, { headers: this.authHeaders() });
      if (!response.ok) throw await this.errorFor(response, "listing");
      const entries = (await response.json()) as Array<{ type: string; path: string; size: number; lfs?: { oid: string; size: number } }>;
      for (const entry of entries) {
        if (entry.type !== "file") continue;
        files.push({ path: entry.path, size: entry.lfs?.size ?? entry.size, sha256: entry.lfs?.oid ?? null });
      }
      url = nextPage(response.headers.get("link"), url);
    }
    return files;
  }

  /**
   * Asks the resolve URL where the bytes are, without following the redirect, so the hub's own
   * headers (sha256, size) are visible. Relative redirects (a renamed repo) are followed.
   */
  async resolve(path: string): Promise<ResolvedFile> {
    let url = this.resolveUrl(path);
    for (let hops = 0; hops < 5; hops++) {
      const response = await fetchExplained(url, { method: "HEAD", redirect: "manual", headers: this.headersFor(url) });
      const sha256 = lfsSha256(response.headers);
      const size = Number(response.headers.get("x-linked-size") ?? response.headers.get("content-length") ?? NaN);
      if (response.status >= 300 && response.status < 400) {
        const location = response.headers.get("location");
        if (!location) throw new HubError(`${url}: HTTP ${response.status} without a Location header`);
        const target = new URL(location, url).toString();
        if (isRelative(location)) {
          url = target;
          continue;
        }
        return { url: target, headers: this.headersFor(target), size: Number.isFinite(size) ? size : null, sha256 };
      }
      if (!response.ok) throw await this.errorFor(response, path);
      return { url, headers: this.headersFor(url), size: Number.isFinite(size) ? size : null, sha256 };
    }
    throw new HubError(`${this.resolveUrl(path)}: too many redirects`);
  }

  /** Authorization for URLs on the hub's host only. */
  headersFor(url: string): Record<string, string> {
    return new URL(url).origin === new URL(this.endpoint).origin ? this.authHeaders() : {};
  }

  private authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** The hub's error codes (X-Error-Code) turned into messages that say what to do. */
  private async errorFor(response: Response, what: string): Promise<HubError> {
    const code = response.headers.get("x-error-code");
    const detail = (await response.text().catch(() => "")).slice(0, 200);
    const where = `${this.endpoint}/${this.repo}@${this.revision}`;
    if (code === "RepoNotFound" || (response.status === 404 && what === "listing") || (response.status === 401 && !code)) {
      const hint = this.token ? "check the name" : "check the name; for a private or gated repo set HF_TOKEN";
      return new HubError(`repository ${this.repo} not found at ${this.endpoint} (HTTP ${response.status}): ${hint}`);
    }
    if (code === "RevisionNotFound") return new HubError(`revision ${this.revision} not found in ${this.repo}`);
    if (code === "EntryNotFound" || response.status === 404) return new HubError(`${where}: ${what} not found (HTTP ${response.status})`);
    if (code === "GatedRepo" || response.status === 401 || response.status === 403) {
      return new HubError(`${where}: access denied (HTTP ${response.status}${code ? ` ${code}` : ""}): set HF_TOKEN to a token that can read it`);
    }
    return new HubError(`${where}: ${what}: HTTP ${response.status}${detail ? ` ${detail}` : ""}`);
  }
}

/** The sha256 the hub reports for an LFS file: X-Linked-Etag, else ETag, when it is 64 hex digits. */
export function lfsSha256(headers: Headers): string | null {
  for (const name of ["x-linked-etag", "etag"]) {
    const value = headers.get(name)?.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
    if (value && /^[0-9a-f]{64}$/.test(value)) return value;
  }
  return null;
}

function isRelative(location: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith("//");
}

function nextPage(link: string | null, current: string): string | null {
  const match = link?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
  return match ? new URL(match[1], current).toString() : null;
}
