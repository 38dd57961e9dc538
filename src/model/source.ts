// Where model files come from. The Worker bundle holds code and the ORT wasm only; the model
// folder (manifest.json + the files it lists) is read through a binding chosen by the MODEL var:
//   assets:<dir>             the Worker's static assets (ASSETS binding; small models, offline dev)
//   r2:<prefix>              the MODEL_BUCKET R2 bucket (real models; npm run model:upload)
//   fetcher:<BINDING>/<dir>  any Fetcher binding, e.g. a service binding to a model host
// Whatever the source, the registry checks every file's size and sha256 against the manifest.
// A file the manifest lists as split into parts (static assets allow 25 MiB per file) reads as the
// one file the graph names; see joiningParts.
import type { ManifestPart } from "./manifest";
import { verifyFile } from "./verify";

export interface ModelFiles {
  /** e.g. "assets:dev/tiny-int8", for messages. */
  readonly location: string;
  read(path: string): Promise<Uint8Array>;
  /** The file as a byte stream, for files too large to hold twice (the weights). */
  stream(path: string): Promise<ReadableStream<Uint8Array>>;
}

export class ModelSourceError extends Error {
  override name = "ModelSourceError";
}

/** `binding(name)` is the Worker's binding of that name (env[name]), or undefined. */
export function modelFiles(spec: string, binding: (name: string) => unknown): ModelFiles {
  return joiningParts(sourceFiles(spec, binding));
}

function sourceFiles(spec: string, binding: (name: string) => unknown): ModelFiles {
  const colon = spec.indexOf(":");
  const scheme = colon < 0 ? "" : spec.slice(0, colon);
  const rest = spec.slice(colon + 1).replace(/^\/+|\/+$/g, "");
  if (scheme === "assets") return fetcherFiles(spec, bindingNamed(binding, "ASSETS", spec), rest);
  if (scheme === "r2") return r2Files(spec, bucketNamed(binding, "MODEL_BUCKET", spec), rest);
  if (scheme === "fetcher") {
    const slash = rest.indexOf("/");
    const name = slash < 0 ? rest : rest.slice(0, slash);
    return fetcherFiles(spec, bindingNamed(binding, name, spec), slash < 0 ? "" : rest.slice(slash + 1));
  }
  throw new ModelSourceError(`MODEL=${JSON.stringify(spec)} is not understood: use "assets:<dir>", "r2:<prefix>" or "fetcher:<BINDING>/<dir>"`);
}

/**
 * Reads a split file as one: each part is checked against its own size and sha256 (so a bad part
 * is named), then copied in order into one buffer of the whole file's size — the caller then
 * checks the joined bytes against the file's own entry, as for any file. Which files are split
 * is learnt from manifest.json, the first file every load reads.
 */
function joiningParts(files: ModelFiles): ModelFiles {
  let split = new Map<string, ManifestPart[]>();
  return {
    location: files.location,
    async read(path: string): Promise<Uint8Array> {
      const parts = split.get(path);
      if (!parts) {
        const bytes = await files.read(path);
        if (path === "manifest.json") split = splitFilesIn(bytes);
        return bytes;
      }
      const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.bytes, 0));
      let offset = 0;
      for (const part of parts) {
        const bytes = await files.read(part.path);
        await verifyFile(bytes, part, files.location);
        joined.set(bytes, offset);
        offset += bytes.byteLength;
      }
      return joined;
    },
    async stream(path: string): Promise<ReadableStream<Uint8Array>> {
      const parts = split.get(path);
      if (!parts) return files.stream(path);
      // The parts one after another; the reader checks the whole file's size and sha256.
      let index = 0;
      let current: ReadableStreamDefaultReader<Uint8Array> | null = null;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          for (;;) {
            if (!current) {
              if (index === parts.length) return controller.close();
              current = (await files.stream(parts[index++].path)).getReader();
            }
            const { done, value } = await current.read();
            if (!done) return controller.enqueue(value);
            current = null;
          }
        },
        cancel: (reason) => current?.cancel(reason),
      });
    },
  };
}

function splitFilesIn(manifestBytes: Uint8Array): Map<string, ManifestPart[]> {
  const split = new Map<string, ManifestPart[]>();
  try {
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as { files?: Array<{ path?: unknown; parts?: unknown }> };
    for (const file of manifest.files ?? []) {
      if (typeof file.path === "string" && Array.isArray(file.parts)) split.set(file.path, file.parts as ManifestPart[]);
    }
  } catch {
    // not JSON: parseManifest reports it
  }
  return split;
}

function bindingNamed(lookup: (name: string) => unknown, name: string, spec: string): Fetcher {
  const binding = lookup(name) as Partial<Fetcher> | undefined;
  if (!binding || typeof binding.fetch !== "function") {
    throw new ModelSourceError(`MODEL=${spec} needs a Fetcher binding named ${name}; configure it in wrangler.toml`);
  }
  return binding as Fetcher;
}

function fetcherFiles(location: string, binding: Fetcher, dir: string): ModelFiles {
  return {
    location,
    async read(path: string): Promise<Uint8Array> {
      const url = `https://model.invalid/${dir ? `${dir}/` : ""}${path}`;
      const response = await binding.fetch(url);
      if (!response.ok) {
        await response.body?.cancel();
        throw new ModelSourceError(`${location}/${path}: HTTP ${response.status} (missing file?)`);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
    async stream(path: string): Promise<ReadableStream<Uint8Array>> {
      const url = `https://model.invalid/${dir ? `${dir}/` : ""}${path}`;
      const response = await binding.fetch(url);
      if (!response.ok) {
        await response.body?.cancel();
        throw new ModelSourceError(`${location}/${path}: HTTP ${response.status} (missing file?)`);
      }
      return response.body ?? new Blob([]).stream();
    },
  };
}

function bucketNamed(lookup: (name: string) => unknown, name: string, spec: string): R2Bucket {
  const binding = lookup(name) as Partial<R2Bucket> | undefined;
  if (!binding || typeof binding.get !== "function") {
    throw new ModelSourceError(`MODEL=${spec} needs an R2 bucket binding named ${name}; add [[r2_buckets]] to wrangler.toml`);
  }
  return binding as R2Bucket;
}

function r2Files(location: string, bucket: R2Bucket, prefix: string): ModelFiles {
  return {
    location,
    async read(path: string): Promise<Uint8Array> {
      const key = prefix ? `${prefix}/${path}` : path;
      const object = await bucket.get(key);
      if (!object) throw new ModelSourceError(`${location}/${path}: no object ${key} in R2 (upload it: npm run model:upload)`);
      return readWhole(object.body, object.size, `${location}/${path}`);
    },
    async stream(path: string): Promise<ReadableStream<Uint8Array>> {
      const key = prefix ? `${prefix}/${path}` : path;
      const object = await bucket.get(key);
      if (!object) throw new ModelSourceError(`${location}/${path}: no object ${key} in R2 (upload it: npm run model:upload)`);
      return object.body;
    },
  };
}

/**
 * The stream's bytes in one buffer of the object's size, allocated once: the bytes are read straight
 * into it (BYOB) where the stream allows, so no chunk list and no concatenating copy ever exist —
 * for a 100 MB weights file that is the difference between one and two or three copies at peak.
 */
async function readWhole(body: ReadableStream<Uint8Array>, size: number, what: string): Promise<Uint8Array> {
  let buffer = new ArrayBuffer(size);
  let offset = 0;
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // not a byte stream: copy chunk by chunk into the buffer instead
  }
  if (byob) {
    while (offset < size) {
      const { value, done } = await byob.read(new Uint8Array(buffer, offset, size - offset));
      if (done || !value) break;
      buffer = value.buffer as ArrayBuffer; // BYOB hands the (transferred) buffer back
      offset += value.byteLength;
    }
    byob.releaseLock();
    await body.cancel().catch(() => undefined); // the stream's end-of-data, unread: let it go
  } else {
    const reader = body.getReader();
    const bytes = new Uint8Array(buffer);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      if (offset + chunk.value.byteLength > size) throw new ModelSourceError(`${what}: more bytes than the object's size ${size}`);
      bytes.set(chunk.value, offset);
      offset += chunk.value.byteLength;
    }
  }
  if (offset !== size) throw new ModelSourceError(`${what}: the object ended after ${offset} of ${size} bytes`);
  return new Uint8Array(buffer);
}
