// fetch() that says what went wrong. Node's fetch rejects with a bare "fetch failed" and hides the
// reason (DNS, refused, timeout) in error.cause; without the URL and the reason a user cannot tell
// a typo in HF_ENDPOINT from a machine without network.

export class NetworkError extends Error {
  override name = "NetworkError";
  /** The system error code (ENOTFOUND, ECONNREFUSED, …), or null when Node gave none. */
  readonly code: string | null;

  constructor(url: string, cause: unknown) {
    const code = causeCode(cause);
    super(explain(url, code, cause), { cause });
    this.code = code;
  }
}

/** fetch(), with a connection failure turned into a NetworkError naming the URL, cause and remedy. */
export async function fetchExplained(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error instanceof TypeError) throw new NetworkError(url, error);
    throw error; // an abort or a programming error: not the network's fault
  }
}

const REASONS: Record<string, string> = {
  ENOTFOUND: "the host name does not resolve (no DNS: offline, or a typo in the address)",
  EAI_AGAIN: "the host name could not be resolved right now (DNS unreachable: offline?)",
  ECONNREFUSED: "the connection was refused (nothing listens at that address and port)",
  ECONNRESET: "the connection was reset (a proxy or firewall may be cutting it)",
  ETIMEDOUT: "the connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
  ENETUNREACH: "the network is unreachable (offline?)",
  EHOSTUNREACH: "the host is unreachable",
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified (an intercepting proxy?)",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's TLS certificate cannot be verified (an intercepting proxy?)",
};

function explain(url: string, code: string | null, cause: unknown): string {
  const detail = innermostMessage(cause);
  const reason = code ? `${code}: ${REASONS[code] ?? detail}` : detail;
  return (
    `cannot reach ${url} — ${reason}. ` +
    "Check the network connection and proxy settings, and HF_ENDPOINT if you set it; " +
    "without network, convert a checkpoint you already have: npm run model:convert -- <checkpoint-dir>"
  );
}

/** error.cause.code, looking inside an AggregateError (one error per address tried). */
function causeCode(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "ERR_INVALID_ARG_TYPE") return code;
    const inner = (e as { errors?: unknown[] }).errors?.[0];
    const innerCode = (inner as { code?: unknown } | undefined)?.code;
    if (typeof innerCode === "string") return innerCode;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

function innermostMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (let e: unknown = (error as { cause?: unknown })?.cause, depth = 0; e && depth < 4; depth++) {
    if (e instanceof Error && e.message) message = e.message;
    e = (e as { cause?: unknown }).cause;
  }
  return message;
}
