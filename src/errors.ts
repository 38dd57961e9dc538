// One error type, thrown anywhere; one handler (index.ts) turns it into a JSON response.
// Handlers never build error bodies inline.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export type ErrorType =
  | "invalid_request_error"
  | "unsupported_media_type"
  | "payload_too_large"
  | "not_found"
  | "method_not_allowed"
  | "model_unavailable"
  | "authentication_error"
  | "rate_limit_exceeded"
  | "overloaded"
  | "internal_error";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly type: ErrorType,
    message: string,
    /** The request field at fault, e.g. "top_p" or "stop[1]"; null when no single field is. */
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  toJSON(): { error: { type: ErrorType; message: string; param: string | null } } {
    return { error: { type: this.type, message: this.message, param: this.param } };
  }
}

export const badRequest = (message: string, param: string | null = null): ApiError =>
  new ApiError(400, "invalid_request_error", message, param);
