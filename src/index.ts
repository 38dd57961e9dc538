// Wiring only: middleware, routes, the one error path, the exported handler and RPC entrypoint.
import { Hono } from "hono";
import type { AppEnv } from "./app-env";
import { ApiError } from "./errors";
import { accessControl } from "./http/access";
import { corsMiddleware } from "./http/cors";
import { deployment } from "./http/deployment";
import { errorBody, reportError, toApiError } from "./http/error-response";
import { handleGenerate } from "./http/generate";
import { handleHealth } from "./http/health";
import { handleInfo } from "./http/info";
import { handleCompletions } from "./http/openai/completions";
import { handleGetModel, handleListModels } from "./http/openai/models";
import { handleOpenApi } from "./http/openapi";
import { handleClientJs, handleDemoPage } from "./http/static";

export { Gpt2Service } from "./rpc";

const app = new Hono<AppEnv>();

// Config, model and request service for every route (resolved once per isolate's env).
app.use("*", deployment());
// Before the routes, so preflights are answered before access control and errors carry CORS headers too.
app.use("*", corsMiddleware());

app.get("/", handleDemoPage);
app.get("/client.js", handleClientJs);
app.get("/health", handleHealth);
app.get("/v1/info", handleInfo);
app.get("/openapi.json", handleOpenApi);
app.get("/v1/models", handleListModels);
app.get("/v1/models/:id", handleGetModel);
app.post("/v1/generate", accessControl(), handleGenerate);
app.post("/v1/completions", accessControl(), handleCompletions);
for (const path of ["/v1/generate", "/v1/completions"]) {
  app.all(path, () => {
    throw new ApiError(405, "method_not_allowed", `use POST ${path} with a JSON body`, null, { Allow: "POST" });
  });
}

app.notFound(() => {
  throw new ApiError(404, "not_found", "no such route; see GET /openapi.json for the API");
});

app.onError((error, c) => {
  const apiError = toApiError(error);
  reportError(error, apiError);
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  return c.json(errorBody(apiError, c.req.path), apiError.status);
});

export default app satisfies ExportedHandler<Env>;
