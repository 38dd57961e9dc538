// Prefix KV reuse: the keys/values computed when a prompt was prefilled, kept in the isolate
// (bounded in bytes, least recently used first out), so a repeated prompt — or one that extends a
// cached prompt — skips the positions already computed. An entry's arrays are its own: it stores
// copies and hands out copies, so an entry that leaves gives its memory back at once (detached)
// instead of leaving it to V8's next GC — with traffic that churns the cache, those entries were
// tens of MiB of garbage ArrayBuffers counted against the isolate until a collection.
import { ByteLru } from "../byte-lru";
import type { KvCache } from "./forward";
import { detachArray, detachBuffers, keepFirst, kvBytes } from "./kv";

export interface PrefixHit {
  /** Prompt positions whose keys/values are reused. */
  length: number;
  kv: KvCache;
  /** Next-token logits after the whole prompt, when the hit covers all of it (a copy). */
  logits: Float32Array | null;
}

interface Entry {
  ids: number[];
  kv: KvCache;
  logits: Float32Array;
}

export class PrefixCache {
  private readonly entries: ByteLru<Entry>;

  /** maxBytes 0 disables the cache. */
  constructor(readonly maxBytes: number, readonly minReuse = 2) {
    this.entries = new ByteLru<Entry>(maxBytes, (entry) => {
      detachBuffers(entry.kv.tensors);
      detachArray(entry.logits);
    });
  }

  get size(): { entries: number; bytes: number } {
    return this.entries.size;
  }

  lookup(ids: readonly number[]): PrefixHit | null {
    let best: Entry | null = null;
    let bestLength = 0;
    for (const entry of this.entries.values()) {
      const common = commonPrefix(entry.ids, ids);
      if (common > bestLength) {
        best = entry;
        bestLength = common;
      }
    }
    if (!best || bestLength < this.minReuse) return null;
    this.entries.get(best.ids.join(",")); // mark it used
    if (bestLength === ids.length && best.ids.length === ids.length) {
      return { length: bestLength, kv: keepFirst(best.kv, bestLength), logits: best.logits.slice() };
    }
    // The prompt's last position must be computed to get its logits, so reuse at most all but it.
    const length = Math.min(bestLength, ids.length - 1);
    if (length < this.minReuse) return null;
    return { length, kv: keepFirst(best.kv, length), logits: null };
  }

  store(ids: readonly number[], kv: KvCache, logits: Float32Array): void {
    if (kv.batch !== 1 || kv.length !== ids.length) throw new Error("the prefix cache stores one prompt's keys/values");
    const bytes = kvBytes(kv) + logits.byteLength;
    if (bytes > this.maxBytes) return;
    this.entries.set(ids.join(","), { ids: [...ids], kv: keepFirst(kv, kv.length), logits: logits.slice() }, bytes);
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
