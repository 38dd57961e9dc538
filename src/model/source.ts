// Where model files come from. The Worker bundle holds code and the ORT wasm only; the model
// folder (manifest.json + the files it lists) is read through a binding chosen by the MODEL var:
//   assets:<dir>             the Worker's static assets (ASSETS binding; small models, offline dev)
//   fetcher:<BINDING>/<dir>  any Fetcher binding, e.g. a service binding to a model host
export interface ModelFiles {
  /** e.g. "assets:dev/tiny-int8", for messages. */
  readonly location: string;
  read(path: string): Promise<Uint8Array>;
}

export class ModelSourceError extends Error {
  override name = "ModelSourceError";
}

export function modelFiles(spec: string, env: Record<string, unknown>): ModelFiles {
  const colon = spec.indexOf(":");
  const scheme = colon < 0 ? "" : spec.slice(0, colon);
  const rest = spec.slice(colon + 1).replace(/^\/+|\/+$/g, "");
  if (scheme === "assets") return fetcherFiles(spec, bindingNamed(env, "ASSETS", spec), rest);
  if (scheme === "fetcher") {
    const slash = rest.indexOf("/");
    const name = slash < 0 ? rest : rest.slice(0, slash);
    return fetcherFiles(spec, bindingNamed(env, name, spec), slash < 0 ? "" : rest.slice(slash + 1));
  }
  throw new ModelSourceError(`MODEL=${JSON.stringify(spec)} is not understood: use "assets:<dir>" or "fetcher:<BINDING>/<dir>"`);
}

function bindingNamed(env: Record<string, unknown>, name: string, spec: string): Fetcher {
  const binding = env[name] as Fetcher | undefined;
  if (!binding || typeof binding.fetch !== "function") {
    throw new ModelSourceError(`MODEL=${spec} needs a Fetcher binding named ${name}; configure it in wrangler.toml`);
  }
  return binding;
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
  };
}
