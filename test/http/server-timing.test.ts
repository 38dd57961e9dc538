import { describe, expect, it } from "vitest";
import { acceptedRequestId } from "../../src/http/request-id";
import { serverTiming } from "../../src/http/server-timing";

describe("serverTiming", () => {
  it("lists the known phases in request order, rounded to 0.1 ms, then the cache", () => {
    expect(serverTiming({ decode_ms: 200.04, tokenize_ms: 0.44, queue_ms: 12, cache: { status: "miss", source: "model" } }))
      .toBe('tokenize;dur=0.4, queue;dur=12, decode;dur=200, cache;desc="miss"');
    expect(serverTiming({ tokenize_ms: 1, prefill_ms: 0, decode_ms: 0, queue_ms: 0, total_ms: 3, cache: { status: "hit", source: "edge" } }))
      .toBe('tokenize;dur=1, queue;dur=0, prefill;dur=0, decode;dur=0, total;dur=3, cache;desc="hit edge"');
  });

  it("leaves out what is not known (or not a number)", () => {
    expect(serverTiming({ tokenize_ms: 2 })).toBe("tokenize;dur=2");
    expect(serverTiming({ tokenize_ms: Number.NaN, cache: { status: "bypass" } })).toBe('cache;desc="bypass"');
    expect(serverTiming({})).toBe("");
  });
});

describe("acceptedRequestId", () => {
  it.each(["abc", "req_01HZX:9/+=@.-", "x".repeat(128)])("keeps a sane id %s", (id) => {
    expect(acceptedRequestId(id)).toBe(id);
  });

  it.each([null, undefined, "", "x".repeat(129), "two words", "new\nline", "quote\"", "é", "a,b"])("replaces %j with a new UUID", (id) => {
    expect(acceptedRequestId(id)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
