// The form a Gpt2Service error takes across Workers RPC: the server (rpc.ts) encodes the details
// into the message, callers decode them (gpt2ErrorOf, re-exported by rpc-client.ts). See
// rpc-client.ts for why.

/** What the HTTP API would have answered: its status and `{error: {type, message, param, request_id}}`. */
export interface Gpt2ErrorDetails {
  status: number;
  /** "invalid_request_error", "overloaded", "model_unavailable", … (the HTTP API's error types). */
  type: string;
  /** The request field at fault, e.g. "top_p" or "stop[1]"; null when no single field is. */
  param: string | null;
  /** The id the call was logged under (the caller's, if it passed one). */
  request_id: string | null;
  /** The message without the appended details. */
  message: string;
}

const MARK = " [edge-gpt2 ";

/**
 * The message the server throws: the human text, then the details as JSON (parsed by gpt2ErrorOf).
 * "[" is escaped inside the JSON, so the last MARK is always the real one, whatever a field name holds.
 */
export function encodeGpt2ErrorMessage(details: Gpt2ErrorDetails): string {
  const { status, type, param, request_id } = details;
  return `${details.message}${MARK}${JSON.stringify({ status, type, param, request_id }).replaceAll("[", "\\u005b")}]`;
}

/** The details of an error thrown by a Gpt2Service call, or null when it is not one of its errors. */
export function gpt2ErrorOf(error: unknown): Gpt2ErrorDetails | null {
  if (!(error instanceof Error)) return null;
  const at = error.message.lastIndexOf(MARK);
  if (at >= 0 && error.message.endsWith("]")) {
    try {
      const parsed = JSON.parse(error.message.slice(at + MARK.length, -1)) as Partial<Gpt2ErrorDetails>;
      if (typeof parsed.status === "number" && typeof parsed.type === "string") {
        // A transport may put "Error: " or the error's name before the text: keep the text only.
        const message = error.message.slice(0, at).replace(/^(?:Error|ApiError): (?=.)/, "");
        return { status: parsed.status, type: parsed.type, param: parsed.param ?? null, request_id: parsed.request_id ?? null, message };
      }
    } catch {
      // Not ours after all: fall through.
    }
  }
  const own = error as Error & Partial<Gpt2ErrorDetails>;
  if (typeof own.status === "number" && typeof own.type === "string") {
    return { status: own.status, type: own.type, param: own.param ?? null, request_id: own.request_id ?? null, message: error.message };
  }
  return null;
}
