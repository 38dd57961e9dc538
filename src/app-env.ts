// Hono's environment for this Worker: bindings come from `wrangler types` (worker-configuration.d.ts);
// the variables are resolved once per request by http/deployment.ts.
import type { Config } from "./config";
import type { ModelHandle } from "./engine/registry";
import type { GenerationService } from "./generation/service";

export interface Deployment {
  config: Config;
  /** The isolate's model: its manifest without loading, its engine on demand. */
  model: ModelHandle;
  /** The request service, response cache included. */
  generation: GenerationService;
}

export interface RequestVariables {
  /** This request's id: the x-request-id header, log lines, error bodies (http/request-id.ts). */
  requestId: string;
}

export type AppEnv = { Bindings: Env; Variables: Deployment & RequestVariables };
