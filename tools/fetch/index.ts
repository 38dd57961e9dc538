// Hub repo → model folder the Worker serves. A repo with config.json + model.safetensors is
// downloaded and converted by our converter (the int8 path tuned for WASM); a repo with only an
// Optimum / transformers.js ONNX export is downloaded and served as it is.
import { existsSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { ModelManifest, WeightDType } from "../../src/model/manifest.js";
import { convertCheckpoint } from "../convert/index.js";
import { DownloadError, downloadFile, sha256File } from "./download.js";
import { HubRepo, SHORT_NAMES, type HubFile, type ResolvedFile } from "./hub.js";
import { pickOnnxExport, writeOnnxModelFolder } from "./onnx-export.js";
import { progressBar, type Progress } from "./progress.js";

export type FetchFormat = "auto" | "checkpoint" | "onnx";

export interface FetchOptions {
  /** gpt2 | distilgpt2 | gpt2-medium | a hub repo id (owner/name). */
  model: string;
  dtype: WeightDType;
  revision?: string;
  /** Default: env HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: env HF_TOKEN. Sent as a Bearer token to the hub (never to its CDN). */
  token?: string;
  format?: FetchFormat;
  /**
   * The model folder to write. Default: models/<name>-<dtype> (ONNX exports: models/<name>-onnx-<dtype>),
   * outside the static-assets folder model/: real models go to R2 (npm run model:upload), and
   * wrangler refuses to deploy assets above 25 MiB per file.
   */
  outDir?: string;
  /** Where downloads are kept (and resumed). Default: .cache/hub/<repo>/<revision>. */
  cacheDir?: string;
  /** Download attempts per file when the connection drops. */
  attempts?: number;
  progress?: (label: string) => Progress;
  log?: (line: string) => void;
}

export interface FetchedFile {
  path: string;
  bytes: number;
  sha256: string;
  /** "cached" when a verified copy was already there. */
  status: "downloaded" | "cached";
  /** Byte offsets the download resumed from (one per Range request). */
  resumedFrom: number[];
}

export interface FetchResult {
  repo: string;
  format: "checkpoint" | "onnx";
  outDir: string;
  manifest: ModelManifest;
  files: FetchedFile[];
}

export async function fetchModel(opts: FetchOptions): Promise<FetchResult> {
  const hub = new HubRepo({
    repo: opts.model,
    revision: opts.revision,
    endpoint: opts.endpoint ?? process.env.HF_ENDPOINT,
    token: opts.token ?? process.env.HF_TOKEN,
  });
  const log = opts.log ?? ((line: string) => console.error(line));
  const listing = await hub.listFiles();
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const has = (path: string) => byPath.has(path);

  const format = opts.format ?? "auto";
  const checkpoint = has("config.json") && has("model.safetensors");
  const onnx = pickOnnxExport([...byPath.keys()], opts.dtype);
  const useOnnx = format === "onnx" || (format === "auto" && !checkpoint && onnx !== null);
  if (!has("config.json")) throw new Error(`${hub.repo}@${hub.revision} has no config.json: not a transformers model repo`);
  if (useOnnx && !onnx) {
    throw new Error(`${hub.repo}@${hub.revision} has no ONNX export for ${opts.dtype} (looked for onnx/model*.onnx and onnx/decoder_model_merged*.onnx)`);
  }
  if (!useOnnx && !checkpoint) {
    throw new Error(`${hub.repo}@${hub.revision} has no model.safetensors (only safetensors checkpoints convert) and no ONNX export for ${opts.dtype}`);
  }

  const wanted = ["config.json", ...(has("generation_config.json") ? ["generation_config.json"] : [])];
  wanted.push(...(useOnnx ? [onnx!.graph, ...onnx!.externalData] : ["model.safetensors"]));
  const cacheDir = resolve(opts.cacheDir ?? join(".cache/hub", hub.repo, hub.revision.replace(/\//g, "--")));
  log(`fetching ${hub.repo}@${hub.revision} from ${hub.endpoint} (${useOnnx ? `ONNX export ${onnx!.graph}` : "checkpoint"}) into ${cacheDir}`);
  const files: FetchedFile[] = [];
  for (const path of wanted) {
    files.push(await fetchFile(hub, byPath.get(path)!, join(cacheDir, path), opts));
  }

  const shortName = Object.keys(SHORT_NAMES).find((k) => SHORT_NAMES[k] === hub.repo) ?? hub.repo.split("/").pop()!.toLowerCase();
  const outDir = resolve(opts.outDir ?? `models/${shortName}${useOnnx ? "-onnx" : ""}-${opts.dtype}`);
  const manifest = useOnnx
    ? await writeOnnxModelFolder({ repoDir: cacheDir, choice: onnx!, dtype: opts.dtype, outDir, name: shortName, source: `${hub.repo}@${hub.revision}` })
    : await convertCheckpoint(cacheDir, { dtype: opts.dtype, outDir, name: shortName });
  return { repo: hub.repo, format: useOnnx ? "onnx" : "checkpoint", outDir, manifest, files };
}

async function fetchFile(hub: HubRepo, listed: HubFile, dest: string, opts: FetchOptions): Promise<FetchedFile> {
  let resolved: ResolvedFile | null = await hub.resolve(listed.path);
  if (listed.sha256 && resolved.sha256 && listed.sha256 !== resolved.sha256) {
    throw new DownloadError(`${listed.path}: the hub's listing says sha256 ${listed.sha256}, its resolve headers ${resolved.sha256}; refusing an inconsistent file`);
  }
  const sha256 = listed.sha256 ?? resolved.sha256;
  const size = listed.size ?? resolved.size;
  if (existsSync(dest) && (await stat(dest)).size === size) {
    const actual = await sha256File(dest);
    if (!sha256 || actual === sha256) return { path: listed.path, bytes: size, sha256: actual, status: "cached", resumedFrom: [] };
  }
  await mkdir(dirname(dest), { recursive: true });
  const result = await downloadFile({
    dest,
    size,
    sha256,
    attempts: opts.attempts,
    progress: (opts.progress ?? progressBar)(listed.path),
    // The first attempt uses the resolution above; retries ask again (CDN links expire).
    source: async () => {
      const current = resolved ?? (await hub.resolve(listed.path));
      resolved = null;
      return current;
    },
  });
  return { path: listed.path, bytes: result.bytes, sha256: result.sha256, status: "downloaded", resumedFrom: result.resumedFrom };
}
