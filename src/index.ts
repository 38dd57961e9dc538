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
import { requestId } from "./http/request-id";
import { handleClientJs, handleDemoPage } from "./http/static";
import { handleDetokenize, handleTokenize } from "./http/tokenize";

export { Gpt2Service } from "./rpc";

const app = new Hono<AppEnv>();

// First, so every response (preflights and errors included) carries x-request-id.
app.use("*", requestId());
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
// Tokenizing costs CPU like a prompt does: the same API keys and rate limit as generation.
app.post("/v1/tokenize", accessControl(), handleTokenize);
app.post("/v1/detokenize", accessControl(), handleDetokenize);
for (const path of ["/v1/generate", "/v1/completions", "/v1/tokenize", "/v1/detokenize"]) {
  app.all(path, () => {
    throw new ApiError(405, "method_not_allowed", `use POST ${path} with a JSON body`, null, { Allow: "POST" });
  });
}

// OpenAI clients try chat first: say why not, in OpenAI's error shape (NotFoundError in their SDKs).
app.all("/v1/chat/completions", () => {
  throw new ApiError(404, "not_found", "GPT-2 is not a chat model, so there is no /v1/chat/completions: use POST /v1/completions with a text prompt (client.completions.create in OpenAI's SDKs)");
});

app.notFound(() => {
  throw new ApiError(404, "not_found", "no such route; see GET /openapi.json for the API");
});

app.onError((error, c) => {
  const apiError = toApiError(error);
  const id = c.get("requestId");
  reportError(error, apiError, id);
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  return c.json(errorBody(apiError, c.req.path, id), apiError.status);
});

export default app satisfies ExportedHandler<Env>;
