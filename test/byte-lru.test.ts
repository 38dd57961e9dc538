import { describe, expect, it } from "vitest";
import { ByteLru } from "../src/byte-lru";

describe("ByteLru", () => {
  it("keeps entries within its byte budget, dropping the least recently used first", () => {
    const lru = new ByteLru<string>(10);
    lru.set("a", "A", 4);
    lru.set("b", "B", 4);
    expect(lru.get("a")).toBe("A"); // a is now the most recent
    lru.set("c", "C", 4);
    expect(lru.get("b")).toBeUndefined();
    expect([...lru.values()]).toEqual(["A", "C"]);
    expect(lru.size).toEqual({ entries: 2, bytes: 8 });
  });

  it("replaces a key without counting it twice, and never stores what exceeds the whole budget", () => {
    const lru = new ByteLru<number>(10);
    lru.set("a", 1, 6);
    lru.set("a", 2, 6);
    expect(lru.size).toEqual({ entries: 1, bytes: 6 });
    lru.set("huge", 3, 11);
    expect(lru.get("huge")).toBeUndefined();
    expect(lru.get("a")).toBe(2);
    expect(new ByteLru<number>(0).size.bytes).toBe(0);
  });

  it("hands every value that leaves to its `dropped` callback: evicted, replaced, deleted or too large", () => {
    const dropped: string[] = [];
    const lru = new ByteLru<string>(10, (value) => dropped.push(value));
    lru.set("a", "A", 4);
    lru.set("b", "B", 4);
    lru.set("c", "C", 4); // evicts a
    lru.set("b", "B2", 4); // replaces B
    lru.delete("c");
    lru.set("huge", "H", 11);
    expect(dropped).toEqual(["A", "B", "C", "H"]);
    expect([...lru.values()]).toEqual(["B2"]);
  });
});
