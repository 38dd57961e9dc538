// Node side of the tests: where converted test models live and how workerd reads them
// (a service binding, like a model host behind a Fetcher).
import { readFile } from "node:fs/promises";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
export const MODEL_CACHE_DIR = path.join(root, ".cache/test-models");
export const REFERENCE_DIR = process.env.EDGE_GPT2_REFERENCE_DIR ?? path.resolve(root, "../shared/reference");

export async function serveModelFile(request: Request): Promise<Response> {
  const relative = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "");
  const file = path.resolve(MODEL_CACHE_DIR, relative);
  if (!file.startsWith(MODEL_CACHE_DIR + path.sep)) return new Response("outside the model cache", { status: 403 });
  try {
    return new Response(await readFile(file));
  } catch {
    return new Response(`no such test model file: ${relative}`, { status: 404 });
  }
}
