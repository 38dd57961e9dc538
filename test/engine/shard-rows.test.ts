// The front's record of a sharded model's rows: each row's tokens (what a lost row is rebuilt
// from), forks made from their source's tokens, and releases held back while a fork still needs
// its source.
import { describe, expect, it } from "vitest";
import { ShardRows } from "../../src/engine/shard-rows";

describe("ShardRows", () => {
  it("names fresh rows uniquely and keeps every token each row was fed", () => {
    const rows = new ShardRows("p-");
    const fresh = rows.fresh(2);
    expect(fresh.map((r) => r.id)).toEqual(["p-0", "p-1"]);
    rows.commit(fresh, [1, 2, 3, 4, 5, 6], 3);
    const next = rows.plan([{ id: "p-1" }, { id: "p-0" }], [3, 3], 1);
    expect(next.map((r) => [r.id, r.past, r.history])).toEqual([["p-1", 3, [4, 5, 6]], ["p-0", 3, [1, 2, 3]]]);
    rows.commit(next, [7, 8], 1);
    expect(rows.plan([{ id: "p-0" }], [4], 1)[0].history).toEqual([1, 2, 3, 8]);
    expect(rows.fresh(1)[0].id).toBe("p-2");
  });

  it("a step that starts elsewhere than the row's tokens end, or names an unknown row, is refused", () => {
    const rows = new ShardRows("p-");
    rows.commit(rows.fresh(1), [1, 2], 2);
    expect(() => rows.plan([{ id: "p-0" }], [3], 1)).toThrow(/holds 2 positions, the step starts at position 3/);
    expect(() => rows.plan([{ id: "nope" }], [0], 1)).toThrow(/knows no row nope/);
  });

  it("a fork starts from its source's tokens; the source's release waits until the fork is made", () => {
    const rows = new ShardRows("p-");
    rows.commit(rows.fresh(1), [1, 2, 3], 3);
    rows.drop(["p-0"]); // the source finished on its first token, its fork goes on
    const step = rows.plan([{ id: "p-0.1", copyOf: "p-0" }], [3], 1);
    expect(step[0]).toMatchObject({ id: "p-0.1", past: 3, copyOf: "p-0", history: [1, 2, 3] });
    expect(rows.releasable(step)).toEqual([]);
    rows.commit(step, [9], 1);
    expect(rows.releasable()).toEqual(["p-0"]);
    expect(rows.size).toEqual({ live: 1, leaving: 1 });
    rows.released(["p-0"]);
    rows.drop(["p-0.1"]);
    rows.released(rows.releasable());
    expect(rows.size).toEqual({ live: 0, leaving: 0 });
  });
});
