// GET /openapi.json: an OpenAPI 3.1 document whose request schemas are generated from the very zod
// schemas that validate requests (with this deployment's limits), so it cannot drift from them.
import type { Context } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env";
import { perLimits, type Limits } from "../config";
import { buildGenerateSchema } from "./generate-schema";
import { SERVER_VERSION } from "./info";
import { infoResponse } from "./info-schema";
import { buildCompletionSchema } from "./openai/schema";
import { detokenizeRequest, detokenizeResponse, MAX_TOKENIZE_TOKENS, tokenizeRequest, tokenizeResponse } from "./tokenize";

// What generateResponseBody (generation/service.ts) returns; test/worker/info.test.ts validates
// real responses against the document built from it.
const generateResponse = z.strictObject({
  model: z.string(),
  generations: z.array(z.strictObject({
    index: z.int(),
    text: z.string(),
    token_ids: z.array(z.int()),
    finish_reason: z.enum(["stop", "length", "time", "cancelled"]),
  })),
  usage: z.strictObject({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int(), cached_tokens: z.int() }),
  seed: z.int().optional().meta({ description: "Present when do_sample is true." }),
  timings: z.strictObject({
    queue_ms: z.number().meta({ description: "Receipt to prefill: model load and waiting for a batch slot." }),
    tokenize_ms: z.number(),
    prefill_ms: z.number(),
    decode_ms: z.number(),
    total_ms: z.number(),
    decode_steps: z.int(),
    decode_tokens_per_second: z.number().nullable(),
    cache: z.enum(["model", "memory", "edge", "coalesced"]).meta({ description: "Where the answer came from." }),
  }),
});

const errorResponse = z.object({
  error: z.object({
    type: z.string(),
    message: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable().optional().meta({ description: "OpenAI-compatible routes only." }),
    request_id: z.string().optional().meta({ description: "This request's x-request-id." }),
  }),
});

/** JSON Schema (2020-12, OpenAPI 3.1's dialect) of a request schema, as clients send it. */
function requestSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override(ctx) {
      // `stop` is parsed through a preprocess step that turns one string into a list.
      const def = (ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def;
      if (def.type === "pipe" && ctx.jsonSchema.type === "array") {
        ctx.jsonSchema.anyOf = [{ type: "string", minLength: 1 }, { ...ctx.jsonSchema }];
        for (const key of Object.keys(ctx.jsonSchema)) if (key !== "anyOf") delete ctx.jsonSchema[key];
      }
    },
  }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

const jsonBody = (ref: string) => ({ content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } });
const errors = {
  "400": { description: "A field has the wrong type or range; `param` names it.", ...jsonBody("Error") },
  "401": { description: "API keys are configured and none (or a wrong one) was sent.", ...jsonBody("Error") },
  "429": { description: "Rate limited; see Retry-After.", ...jsonBody("Error") },
  "503": { description: "The model cannot be loaded, or it is busy (type `overloaded`); see Retry-After.", ...jsonBody("Error") },
};

export function openApiDocument(limits: Limits) {
  return {
    openapi: "3.1.0",
    info: { title: "Edge GPT-2", version: SERVER_VERSION, description: "GPT-2 text generation on Cloudflare Workers." },
    components: {
      schemas: {
        GenerateRequest: requestSchema(buildGenerateSchema(limits)),
        GenerateResponse: requestSchema(generateResponse),
        CompletionRequest: requestSchema(buildCompletionSchema(limits)),
        TokenizeRequest: requestSchema(tokenizeRequest),
        TokenizeResponse: requestSchema(tokenizeResponse),
        DetokenizeRequest: requestSchema(detokenizeRequest),
        DetokenizeResponse: requestSchema(detokenizeResponse),
        InfoResponse: requestSchema(infoResponse),
        Error: requestSchema(errorResponse),
      },
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "Only when the server has API_KEYS." } },
    },
    paths: {
      "/v1/generate": {
        post: {
          summary: "Generate text (Hugging Face generate() settings)",
          security: [{}, { bearer: [] }],
          requestBody: { required: true, ...jsonBody("GenerateRequest") },
          responses: {
            "200": {
              description: "The generations; with stream: true, server-sent events `token`, `finish`, then `done` (this body) or `error`.",
              content: { ...jsonBody("GenerateResponse").content, "text/event-stream": { schema: { type: "string" } } },
            },
            ...errors,
          },
        },
      },
      "/v1/completions": {
        post: {
          summary: "OpenAI-compatible completions",
          security: [{}, { bearer: [] }],
          requestBody: { required: true, ...jsonBody("CompletionRequest") },
          responses: { "200": { description: "OpenAI `text_completion` object, or its chunks as server-sent events ending in `data: [DONE]`." }, ...errors },
        },
      },
      "/v1/tokenize": {
        post: {
          summary: `GPT-2 token ids, count and per-token text/bytes of a text (at most ${MAX_TOKENIZE_TOKENS} tokens)`,
          security: [{}, { bearer: [] }],
          requestBody: { required: true, ...jsonBody("TokenizeRequest") },
          responses: { "200": { description: "The tokens.", ...jsonBody("TokenizeResponse") }, ...errors },
        },
      },
      "/v1/detokenize": {
        post: {
          summary: "The text of GPT-2 token ids",
          security: [{}, { bearer: [] }],
          requestBody: { required: true, ...jsonBody("DetokenizeRequest") },
          responses: { "200": { description: "The text.", ...jsonBody("DetokenizeResponse") }, ...errors },
        },
      },
      "/v1/chat/completions": {
        post: { summary: "Not available: GPT-2 is not a chat model (404 pointing to /v1/completions)", responses: { "404": { description: "Always.", ...jsonBody("Error") } } },
      },
      "/v1/models": { get: { summary: "OpenAI-compatible model list (the one served model)", responses: { "200": { description: "`{object: \"list\", data: [...]}`" } } } },
      "/v1/info": { get: { summary: "Model id, revision, dtype, context window, limits, server version", responses: { "200": { description: "Deployment facts", ...jsonBody("InfoResponse") }, "503": errors["503"] } } },
      "/health": { get: { summary: "Liveness and model status", responses: { "200": { description: "Model loaded" }, "503": { description: "Model unavailable" } } } },
      "/client.js": { get: { summary: "Dependency-free ES module client for browsers", responses: { "200": { description: "JavaScript" } } } },
      "/": { get: { summary: "Demo page", responses: { "200": { description: "HTML" } } } },
    },
  };
}

const documentFor = perLimits(openApiDocument);

export function handleOpenApi(c: Context<AppEnv>): Response {
  return c.json(documentFor(c.var.config.limits));
}
