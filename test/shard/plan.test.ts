// The shard plan (tools/convert/shard-plan.ts): by count, blocks as even as can be; by memory, the
// fewest shards whose every estimate fits, or an error that says what one block needs.
import { describe, expect, it } from "vitest";
import type { Gpt2Config } from "../../tools/convert/checkpoint";
import { kvBytesFor, kvBytesPerPosition } from "../../src/engine/kv-budget";
import { estimateShard, evenRanges, planByMemory } from "../../tools/convert/shard-plan";

const MiB = 2 ** 20;
const shape = (n_layer: number, n_embd: number, n_head: number) =>
  ({ n_layer, n_embd, n_head, n_inner: 4 * n_embd, n_positions: 1024, vocab_size: 50257 }) as Gpt2Config;
const GPT2 = shape(12, 768, 12);
const MEDIUM = shape(24, 1024, 16);

describe("shard plan", () => {
  it("splits blocks as evenly as can be, the extra ones to the last shards", () => {
    expect(evenRanges(12, 4)).toEqual([[0, 3], [3, 6], [6, 9], [9, 12]]);
    expect(evenRanges(12, 5)).toEqual([[0, 2], [2, 4], [4, 6], [6, 9], [9, 12]]);
    expect(evenRanges(2, 2)).toEqual([[0, 1], [1, 2]]);
    expect(() => evenRanges(2, 3)).toThrow(/--shards 3 is more than the model's 2 blocks/);
    expect(() => evenRanges(2, 0)).toThrow(/--shards must be a positive integer/);
  });

  it.each([
    ["GPT-2-124M", GPT2, 4],
    ["gpt2-medium", MEDIUM, 12],
  ])("plans %s int8 into the fewest shards that each fit 120 MiB", (_, config, shards) => {
    const plan = planByMemory(config, 120 * MiB);
    expect(plan).toHaveLength(shards);
    for (const range of plan) expect(estimateShard(config, range).totalBytes).toBeLessThanOrEqual(120 * MiB);
    const fewer = evenRanges(config.n_layer, shards - 1);
    expect(fewer.some((range) => estimateShard(config, range).totalBytes > 120 * MiB)).toBe(true);
  });

  it("counts a longer prefill step's scratch, and the first shard's position table", () => {
    const short = estimateShard(GPT2, [3, 6], { prefill: 128 });
    const long = estimateShard(GPT2, [3, 6], { prefill: 1024 });
    expect(long.scratchBytes - short.scratchBytes).toBeGreaterThan(40 * MiB);
    expect(estimateShard(GPT2, [0, 3]).weightsBytes - estimateShard(GPT2, [3, 6]).weightsBytes).toBe(1024 * 768 * 4);
  });

  it("provisions keys/values with the runtime's cost model: what the front admits and each shard isolate checks", () => {
    // One 1,024-token context (or 8 × 128): every copy the front's budget and the shard's ledger count.
    expect(estimateShard(GPT2, [3, 5]).kvBytes).toBe(kvBytesFor(kvBytesPerPosition(768, 2), 1, 1024));
    expect(estimateShard(MEDIUM, [0, 1], { positions: 512 }).kvBytes).toBe(kvBytesFor(kvBytesPerPosition(1024, 1), 1, 512));
  });

  it("says what one block needs when even that does not fit", () => {
    expect(() => planByMemory(MEDIUM, 60 * MiB)).toThrow(/even one block per shard needs ~\d+\.\d MiB .* more than 60 MiB: raise --shard-memory or shorten --shard-prefill/);
  });
});
