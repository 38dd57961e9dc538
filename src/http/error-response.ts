// From anything thrown to the ApiError the client sees, and its body: the native
// {error:{type,message,param}} shape, or OpenAI's {error:{message,type,param,code}} on the
// OpenAI-compatible routes, so OpenAI clients raise their usual exceptions.
import { ApiError, badRequest } from "../errors";
import { ModelSourceError } from "../model/source";
import { SamplingSettingsError } from "../sampling/settings";
import { ModelUnavailableError } from "../engine/registry";
import { ShardUnavailableError } from "../engine/sharded-forward";

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  // A setting no validator caught before the sampler did: still the request's fault, never a 500.
  if (error instanceof SamplingSettingsError) return badRequest(error.message, error.field);
  if (error instanceof ModelUnavailableError || error instanceof ModelSourceError) {
    // Retry-After: when the registry will try loading again (its backoff), at least a second.
    const retryInMs = error instanceof ModelUnavailableError ? error.retryAt - Date.now() : 5000;
    return new ApiError(503, "model_unavailable", `the model cannot be loaded: ${error.message}`, null, {
      "Retry-After": String(Math.max(1, Math.ceil(retryInMs / 1000))),
    });
  }
  // The model's shards kept failing through every retry of a step: the server's condition.
  if (error instanceof ShardUnavailableError) {
    return new ApiError(503, "model_unavailable", `the model's shards are unavailable: ${error.message}`, null, { "Retry-After": String(error.retryAfterSeconds) });
  }
  return new ApiError(500, "internal_error", "generation failed inside the server; the request can be retried");
}

/**
 * Log what the operator must see, as one JSON line with the request's id: unexpected failures with
 * their stack, 503s as a warning. Client errors (4xx) are the client's business and not logged.
 */
export function reportError(error: unknown, apiError: ApiError, requestId: string | null = null): void {
  if (apiError.status < 500) return;
  const line = { event: "error", request_id: requestId, status: apiError.status, type: apiError.type, message: apiError.message };
  if (apiError.status === 503) console.warn(JSON.stringify(line));
  else console.error(JSON.stringify({ ...line, cause: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
}

/** The paths whose errors use OpenAI's body shape. */
export const isOpenAIPath = (path: string): boolean =>
  path === "/v1/completions" || path.startsWith("/v1/models") || path.startsWith("/v1/chat/");

export interface OpenAIErrorBody {
  /** request_id: an addition OpenAI's clients ignore (they read the x-request-id header). */
  error: { message: string; type: string; param: string | null; code: string | null; request_id?: string };
}

export interface NativeErrorBody {
  error: { type: string; message: string; param: string | null; request_id?: string };
}

/** OpenAI's machine-readable `code` for the errors that have one. */
function openAICode(error: ApiError): string | null {
  if (error.status === 404 && error.param === "model") return "model_not_found";
  if (error.status === 401) return "invalid_api_key";
  if (error.status === 429) return "rate_limit_exceeded";
  return null;
}

export function openAIErrorBody(error: ApiError, requestId?: string): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: openAICode(error), ...(requestId ? { request_id: requestId } : {}) } };
}

export function nativeErrorBody(error: ApiError, requestId?: string): NativeErrorBody {
  return { error: { ...error.toJSON().error, ...(requestId ? { request_id: requestId } : {}) } };
}

export function errorBody(error: ApiError, path: string, requestId?: string): OpenAIErrorBody | NativeErrorBody {
  return isOpenAIPath(path) ? openAIErrorBody(error, requestId) : nativeErrorBody(error, requestId);
}
