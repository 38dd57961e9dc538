// The shard isolate's ledger (src/shard/memory.ts): every instance's keys/values counted in one
// module-level ledger, with the front's cost model; a step that would take the isolate past its
// budget is refused before anything changes; a reset instance's successor, or room running short
// beside a stale instance, gives rows back.
import { afterEach, describe, expect, it, vi } from "vitest";
import { kvBytesFor, kvBytesPerPosition } from "../../src/engine/kv-budget";
import { isShardOverloaded } from "../../src/engine/shard-protocol";
import { isolateStatus, KvAccount, STALE_MS } from "../../src/shard/memory";

const WIDTH = 64;
const BLOCKS = 2;
const bpp = kvBytesPerPosition(WIDTH, BLOCKS);
/** Room for exactly 3 rows of 100 positions. */
const BUDGET = kvBytesFor(bpp, 3, 100);

const accounts: KvAccount[] = [];
function account(key: string, drop: () => void = () => undefined): KvAccount {
  const made = new KvAccount(key, WIDTH, BLOCKS, BUDGET, drop);
  accounts.push(made);
  return made;
}

afterEach(() => {
  for (const a of accounts.splice(0)) a.settle(new Map(), 0);
  vi.useRealTimers();
});

const refusal = (task: () => void) => {
  try {
    task();
  } catch (error) {
    return error;
  }
  return null;
};

describe("the shard isolate's ledger", () => {
  it("charges each instance its rows padded to the longest reach, forks to come included, and refuses what the isolate cannot hold", () => {
    const a = account("a");
    a.admit([{ id: "a1", past: 0, reach: 100, forks: 1 }], 10, new Map());
    a.settle(new Map([["a1", 10]]), 1234);
    expect(isolateStatus(BUDGET)).toMatchObject({ instances: 1, rows: 1, kvBytes: 1234, chargedBytes: kvBytesFor(bpp, 2, 100), budgetBytes: BUDGET });
    // Decode steps and the fork it reserved cost nothing more.
    a.admit([{ id: "a1", past: 10 }, { id: "a1.1", past: 10, copyOf: "a1" }], 1, new Map());
    a.settle(new Map([["a1", 11], ["a1.1", 11]]), 2000);
    expect(isolateStatus(BUDGET).chargedBytes).toBe(kvBytesFor(bpp, 2, 100));

    const b = account("b");
    b.admit([{ id: "b1", past: 0, reach: 100 }], 5, new Map()); // the third row: fits
    b.settle(new Map([["b1", 5]]), 500);
    const before = isolateStatus(BUDGET);
    const error = refusal(() => b.admit([{ id: "b1", past: 5 }, { id: "b2", past: 0, reach: 100 }], 5, new Map()));
    expect(isShardOverloaded(error)).toBe(true);
    expect((error as Error).message).toMatch(/^ShardOverloaded: this step needs .* MiB .* 1 other instance\(s\) in the shard's isolate hold/);
    expect(isShardOverloaded(new Error((error as Error).message))).toBe(true); // as it arrives over RPC
    expect(isolateStatus(BUDGET)).toEqual({ ...before, refusals: before.refusals + 1 }); // nothing changed
    // A longer reach pads every row of the instance to it: refused too.
    expect(isShardOverloaded(refusal(() => b.admit([{ id: "b1", past: 5, reach: 200 }], 1, new Map())))).toBe(true);
    // Once a's rows leave, b's second row fits.
    a.settle(new Map(), 0);
    b.admit([{ id: "b1", past: 5 }, { id: "b2", past: 0, reach: 100 }], 5, new Map());
    expect(isolateStatus(BUDGET)).toMatchObject({ instances: 1, chargedBytes: kvBytesFor(bpp, 2, 100) });
  });

  it("a new instance of the same Durable Object replaces the last one: its rows are given back, its late steps count nowhere", () => {
    const dropped: string[] = [];
    const old = account("x", () => dropped.push("old"));
    old.admit([{ id: "r", past: 0, reach: 100 }], 4, new Map());
    old.settle(new Map([["r", 4]]), 100);
    account("x");
    expect(dropped).toEqual(["old"]);
    expect(isolateStatus(BUDGET).chargedBytes).toBe(0);
    old.settle(new Map([["r", 5]]), 100);
    expect(isolateStatus(BUDGET).chargedBytes).toBe(0);
  });

  it("when room is short, an instance that ran no step for STALE_MS gives its rows back (its front went away)", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const dropped: string[] = [];
    const stale = account("stale", () => dropped.push("stale"));
    stale.admit([{ id: "s", past: 0, reach: 100, forks: 2 }], 4, new Map());
    stale.settle(new Map([["s", 4]]), 100);
    const fresh = account("fresh");
    expect(isShardOverloaded(refusal(() => fresh.admit([{ id: "f", past: 0, reach: 100 }], 4, new Map())))).toBe(true);
    expect(dropped).toEqual([]); // not stale yet
    vi.setSystemTime(1_000_000 + STALE_MS);
    fresh.admit([{ id: "f", past: 0, reach: 100 }], 4, new Map());
    expect(dropped).toEqual(["stale"]);
    expect(isolateStatus(BUDGET)).toMatchObject({ chargedBytes: kvBytesFor(bpp, 1, 100) });
  });
});
