// GET /v1/models and GET /v1/models/:id: the one served model, in OpenAI's list shape.
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { ApiError } from "../../errors";
import type { ModelManifest } from "../../model/manifest";

const modelObject = (manifest: ModelManifest, created: number) => ({
  id: manifest.name,
  object: "model" as const,
  created,
  owned_by: "edge-gpt2",
});

// OpenAI's `created` is when the model was published; what this isolate knows is when it first
// served it.
const firstServed = new Map<string, number>();
function createdAt(manifest: ModelManifest): number {
  const revision = manifest.source.weights_sha256;
  if (!firstServed.has(revision)) firstServed.set(revision, Math.floor(Date.now() / 1000));
  return firstServed.get(revision)!;
}

export async function handleListModels(c: Context<AppEnv>): Promise<Response> {
  const manifest = await c.var.model.manifest();
  return c.json({ object: "list", data: [modelObject(manifest, createdAt(manifest))] });
}

export async function handleGetModel(c: Context<AppEnv>): Promise<Response> {
  const manifest = await c.var.model.manifest();
  const id = c.req.param("id");
  if (id !== manifest.name) {
    throw new ApiError(404, "not_found", `The model \`${id}\` does not exist; this server serves \`${manifest.name}\``, "model");
  }
  return c.json(modelObject(manifest, createdAt(manifest)));
}
