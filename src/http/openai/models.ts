// GET /v1/models and GET /v1/models/:id: the one served model, in OpenAI's list shape.
import type { Context } from "hono";
import type { AppEnv } from "../../app-env";
import { loadConfig } from "../../config";
import { ApiError } from "../../errors";
import { getModel, type LoadedModel } from "../../session/registry";

const modelObject = (model: LoadedModel, created: number) => ({
  id: model.manifest.name,
  object: "model" as const,
  created,
  owned_by: "edge-gpt2",
});

// OpenAI's `created` is when the model was published; what this isolate knows is when it first
// served it.
const firstServed = new WeakMap<LoadedModel, number>();
function createdAt(model: LoadedModel): number {
  if (!firstServed.has(model)) firstServed.set(model, Math.floor(Date.now() / 1000));
  return firstServed.get(model)!;
}

async function servedModel(c: Context<AppEnv>): Promise<LoadedModel> {
  return getModel(loadConfig(c.env).model, c.env as unknown as Record<string, unknown>);
}

export async function handleListModels(c: Context<AppEnv>): Promise<Response> {
  const model = await servedModel(c);
  return c.json({ object: "list", data: [modelObject(model, createdAt(model))] });
}

export async function handleGetModel(c: Context<AppEnv>): Promise<Response> {
  const model = await servedModel(c);
  const id = c.req.param("id");
  if (id !== model.manifest.name) {
    throw new ApiError(404, "not_found", `The model \`${id}\` does not exist; this server serves \`${model.manifest.name}\``, "model");
  }
  return c.json(modelObject(model, createdAt(model)));
}
