// Wiring only: routes, the one error path, the exported handler.
import { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { ApiError } from "./errors";
import { handleGenerate } from "./http/generate";
import { handleHealth } from "./http/health";
import { ModelSourceError } from "./model/source";
import { ModelUnavailableError } from "./session/registry";

const app = new Hono<AppEnv>();

app.get("/health", handleHealth);
app.post("/v1/generate", handleGenerate);
app.all("/v1/generate", () => {
  throw new ApiError(405, "method_not_allowed", "use POST /v1/generate with a JSON body", null, { Allow: "POST" });
});

app.notFound(() => {
  throw new ApiError(404, "not_found", "no such route; see GET /health and POST /v1/generate");
});

app.onError((error, c) => {
  const apiError = toApiError(error);
  if (apiError.status === 503) console.warn(apiError.message);
  else if (apiError.status >= 500) console.error("request failed:", error instanceof Error ? error.stack : error);
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  return c.json(apiError.toJSON(), apiError.status);
});

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ModelUnavailableError || error instanceof ModelSourceError) {
    return new ApiError(503, "model_unavailable", `the model cannot be loaded: ${error.message}`, null, { "Retry-After": "5" });
  }
  return new ApiError(500, "internal_error", "generation failed inside the server; the request can be retried");
}

export default app satisfies ExportedHandler<Env>;
