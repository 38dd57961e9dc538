// A map bounded in bytes that drops its least recently used entries first: the prefix cache (KV
// snapshots) and the response cache's memory tier both keep one. Map iteration order is insertion
// order, so re-inserting an entry on use keeps it in LRU order.

export class ByteLru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private used = 0;

  /** maxBytes 0 keeps nothing. `dropped` sees every value that leaves (evicted, replaced or deleted). */
  constructor(
    readonly maxBytes: number,
    private readonly dropped?: (value: V) => void,
  ) {}

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.used };
  }

  /** The value, marked as just used. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` (replacing any under `key`), evicting the least recently used to make room;
   * a value larger than the whole budget is not stored. */
  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return this.dropped?.(value);
    while (this.used + bytes > this.maxBytes) this.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, bytes });
    this.used += bytes;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.used -= entry.bytes;
    this.dropped?.(entry.value);
  }

  /** Every value, least recently used first (no entry is marked used). */
  values(): IterableIterator<V> {
    const inner = this.entries.values();
    return (function* () {
      for (const entry of inner) yield entry.value;
    })();
  }
}
