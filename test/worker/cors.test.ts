// CORS for static sites: allow-list from CORS_ORIGINS ("*" or exact origins), preflights, and
// CORS headers on errors and streams too (a browser cannot read a response without them).
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { allowedOrigin } from "../../src/http/cors";
import { envFor } from "./helpers";

const MODEL = "synthetic-int8";
const listed = envFor(MODEL, { CORS_ORIGINS: "https://blog.example, https://docs.example" });

const preflight = (origin: string, environment: Env) =>
  app.request("/v1/generate", {
    method: "OPTIONS",
    headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization" },
  }, environment);

const post = (origin: string, body: unknown, environment: Env) =>
  app.request("/v1/generate", { method: "POST", headers: { Origin: origin, "content-type": "application/json" }, body: JSON.stringify(body) }, environment);

describe("allowedOrigin", () => {
  it.each([
    [["*"], "https://any.example", "*"],
    [["*"], "", "*"],
    [["https://a.example"], "https://a.example", "https://a.example"],
    [["https://a.example"], "https://a.example.evil", null],
    [["https://a.example"], "http://a.example", null],
    [[], "https://a.example", null],
  ])("%j, %s → %s", (list, origin, expected) => {
    expect(allowedOrigin(list, origin)).toBe(expected);
  });
});

describe("CORS", () => {
  it("answers a preflight from a listed origin with 204 and what the browser asked for", async () => {
    const response = await preflight("https://docs.example", listed);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://docs.example");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")).toBe("content-type,authorization");
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("gives an unlisted origin no Allow-Origin header (the browser then blocks it)", async () => {
    expect((await preflight("https://other.example", listed)).headers.get("access-control-allow-origin")).toBeNull();
    expect((await post("https://other.example", { prompt: "x", max_new_tokens: 1 }, listed)).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("CORS_ORIGINS=\"*\" allows any origin; an empty list sends no CORS headers", async () => {
    expect((await preflight("https://any.example", envFor(MODEL, { CORS_ORIGINS: "*" }))).headers.get("access-control-allow-origin")).toBe("*");
    expect((await preflight("https://any.example", envFor(MODEL, { CORS_ORIGINS: "" }))).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("adds the headers to JSON results, errors and event streams alike", async () => {
    const ok = await post("https://blog.example", { prompt: "x", max_new_tokens: 1 }, listed);
    const bad = await post("https://blog.example", { prompt: "x", top_p: 9 }, listed);
    const streamed = await post("https://blog.example", { prompt: "x", max_new_tokens: 2, stream: true }, listed);
    for (const [response, status] of [[ok, 200], [bad, 400], [streamed, 200]] as const) {
      expect(response.status).toBe(status);
      expect(response.headers.get("access-control-allow-origin")).toBe("https://blog.example");
      expect(response.headers.get("access-control-expose-headers")).toContain("Retry-After");
      await response.body?.cancel();
    }
  });
});
