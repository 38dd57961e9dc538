// Response cache for deterministic requests (greedy, or sampling with an explicit seed), in two
// tiers: an in-isolate LRU bounded in bytes, then the data center's Workers Cache API so other
// isolates hit too. Keys hash the model's identity (every file's sha256), the prompt's token ids
// and every setting that changes the output, so one model's text is never served for another.
import { ByteLru } from "../byte-lru";
import type { SequenceResult } from "../engine/sequence";

export interface CachedGeneration {
  sequences: SequenceResult[];
  cachedTokens: number;
}

export type CacheTier = "memory" | "edge";

export class ResponseCache {
  private readonly memory: ByteLru<string>;

  /**
   * maxBytes 0 disables the memory tier; ttlSeconds 0 disables the edge tier. `edge` is
   * caches.default in a Worker (null where the Cache API is missing).
   */
  constructor(readonly maxBytes: number, readonly ttlSeconds: number, private readonly edge: Cache | null) {
    this.memory = new ByteLru(maxBytes);
  }

  async get(key: string): Promise<{ value: CachedGeneration; tier: CacheTier } | null> {
    const local = this.memory.get(key);
    if (local !== undefined) return { value: JSON.parse(local) as CachedGeneration, tier: "memory" };
    if (!this.edge || this.ttlSeconds === 0) return null;
    const response = await this.edge.match(edgeUrl(key));
    if (!response) return null;
    const json = await response.text();
    this.remember(key, json);
    return { value: JSON.parse(json) as CachedGeneration, tier: "edge" };
  }

  async put(key: string, value: CachedGeneration): Promise<void> {
    const json = JSON.stringify(value);
    this.remember(key, json);
    if (!this.edge || this.ttlSeconds === 0) return;
    await this.edge.put(
      edgeUrl(key),
      new Response(json, { headers: { "content-type": "application/json", "cache-control": `public, max-age=${this.ttlSeconds}` } }),
    );
  }

  private remember(key: string, json: string): void {
    this.memory.set(key, json, json.length * 2); // UTF-16 in the JS heap
  }
}

// The Cache API only stores GET requests keyed by URL; this host is never fetched.
const edgeUrl = (key: string) => `https://response-cache.edge-gpt2.invalid/v1/${key}`;

/** sha256 (hex) of everything that decides the output. */
export async function responseCacheKey(parts: Record<string, unknown>): Promise<string> {
  const canonical = JSON.stringify(parts, (_key, value) =>
    value instanceof Map ? [...value.entries()].sort(([a], [b]) => a - b) : value,
  );
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
