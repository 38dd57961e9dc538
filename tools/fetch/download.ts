// One resumable, verified download. Bytes go to `<dest>.incomplete`; a later attempt (a retry after
// a dropped connection, or the next run) asks for the rest with `Range: bytes=<have>-`:
//   206  the server sends the rest → append (Content-Range must start where we are)
//   200  the server ignores ranges → start over from byte 0
//   416  nothing left to send → the partial file is already whole (or longer than the file: restart)
// The sha256 covers the whole file, partial bytes included, and is checked before the rename into
// place: a file that does not match what the hub announced is deleted, never used.
import { createHash, type Hash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { open, rename, rm, stat, truncate } from "node:fs/promises";
import { NetworkError, fetchExplained } from "./network.js";
import type { Progress } from "./progress.js";

export interface DownloadSource {
  url: string;
  headers: Record<string, string>;
}

export interface DownloadOptions {
  /** Asked again before every attempt: hub CDN links are signed and expire. */
  source: () => Promise<DownloadSource>;
  dest: string;
  size: number | null;
  sha256: string | null;
  progress?: Progress;
  /** Attempts in total when the connection drops (default 5). */
  attempts?: number;
}

export class DownloadError extends Error {
  override name = "DownloadError";
}

export async function downloadFile(options: DownloadOptions): Promise<{ sha256: string; bytes: number; resumedFrom: number[] }> {
  const { dest } = options;
  const partial = `${dest}.incomplete`;
  const attempts = options.attempts ?? 5;
  const resumedFrom: number[] = [];
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const done = await attemptDownload(options, partial, resumedFrom);
      if (done) {
        const { sha256, bytes } = await verify(partial, options);
        await rename(partial, dest);
        return { sha256, bytes, resumedFrom };
      }
    } catch (error) {
      if (error instanceof DownloadError) throw error; // refusals are final, not network weather
      lastError = error;
      if (attempt < attempts) {
        options.progress?.note(`connection lost (${describe(error)}); resuming (attempt ${attempt + 1}/${attempts})`);
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }
  throw new DownloadError(`${dest}: download failed after ${attempts} attempts: ${describe(lastError)} (run again to resume)`);
}

/** One request. Returns true when the partial file holds the whole file. */
async function attemptDownload(options: DownloadOptions, partial: string, resumedFrom: number[]): Promise<boolean> {
  const have = existsSync(partial) ? (await stat(partial)).size : 0;
  const { url, headers } = await options.source();
  const response = await fetchExplained(url, { headers: have > 0 ? { ...headers, range: `bytes=${have}-` } : headers });
  if (response.status === 416) {
    await response.body?.cancel();
    if (options.size !== null && have === options.size) return true;
    await rm(partial, { force: true }); // longer than the file, or of unknown size: start over
    throw new Error(`HTTP 416 for a ${have}-byte partial file`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DownloadError(`${url}: HTTP ${response.status}`);
  }
  let offset = 0;
  if (response.status === 206) {
    const range = response.headers.get("content-range")?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)/);
    if (!range || Number(range[1]) !== have) {
      await response.body?.cancel();
      await rm(partial, { force: true });
      throw new Error(`unexpected Content-Range ${response.headers.get("content-range")} for bytes=${have}-`);
    }
    offset = have;
    resumedFrom.push(have);
  } else if (have > 0) {
    await truncate(partial, 0); // 200: the server sent the whole file again
  }
  const total = options.size ?? (Number(response.headers.get("content-length")) + offset || null);
  options.progress?.start(total, offset);
  const file = await open(partial, offset > 0 ? "a" : "w");
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      offset += chunk.byteLength;
      options.progress?.update(offset);
    }
  } finally {
    await file.close();
  }
  if (options.size !== null && offset !== options.size) {
    throw new Error(`connection closed at byte ${offset} of ${options.size}`);
  }
  options.progress?.finish();
  return true;
}

async function verify(partial: string, options: DownloadOptions): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  const bytes = await hashFile(partial, hash);
  const sha256 = hash.digest("hex");
  if (options.size !== null && bytes !== options.size) {
    await rm(partial, { force: true });
    throw new DownloadError(`${options.dest}: got ${bytes} bytes, the hub says ${options.size}; refused (deleted)`);
  }
  if (options.sha256 && sha256 !== options.sha256) {
    await rm(partial, { force: true });
    throw new DownloadError(`${options.dest}: sha256 ${sha256} does not match the hub's ${options.sha256}; refused (deleted)`);
  }
  return { sha256, bytes };
}

export async function hashFile(path: string, hash: Hash = createHash("sha256")): Promise<number> {
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
  }
  return bytes;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await hashFile(path, hash);
  return hash.digest("hex");
}

function describe(error: unknown): string {
  if (error instanceof NetworkError) return error.message; // already names the URL and the cause
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
