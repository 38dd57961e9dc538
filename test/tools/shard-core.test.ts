// The shard runtime's core (src/shard/core.ts) on real shard graphs in onnxruntime: rows batched
// together get exactly the numbers each gets alone in the unsharded graph; a reused batch (same rows
// as the last step) and an assembled one agree bit for bit; copyOf, release, a retried step and
// ShardStateLost behave as src/engine/shard-protocol.ts says.
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import type { TiedEmbedding } from "../../src/engine/lm-head/index.js";
import { isShardStateLost, ShardStateLost, type ShardRow } from "../../src/engine/shard-protocol.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import type { ShardCore } from "../../src/shard/core.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { CACHE_DIR, compareBits } from "./reference.js";
import { openCores, openKernel, openSession, pipeline, positionsOf } from "./shard-models.js";

const CHECKPOINT = `${CACHE_DIR}synthetic-l3-e64`;
const plainDir = `${CACHE_DIR}synthetic-l3-int8-unsharded`;
const shardedDir = `${CACHE_DIR}synthetic-l3-int8-sharded`;

let plain: { manifest: ModelManifest; session: ort.InferenceSession };
let kernel: TiedEmbedding;
let E: number;

beforeAll(async () => {
  await writeSyntheticCheckpoint({ layers: 3, embd: 64, heads: 4, seed: 11, positions: 128, vocab: 1000, outDir: CHECKPOINT });
  // MLPs in the graphs: Node has no CompiledWasm import for the MLP kernel (layered shards run in
  // workerd: test/worker/sharded.test.ts, test/dev).
  await convertCheckpoint(CHECKPOINT, { dtype: "int8", outDir: plainDir, logits: "all", mlp: "graph" });
  await convertCheckpoint(CHECKPOINT, { dtype: "int8", outDir: shardedDir, shards: { count: 2 }, mlp: "graph" });
  plain = await openSession(plainDir);
  kernel = await openKernel(shardedDir, plain.manifest);
  E = plain.manifest.architecture.n_embd;
}, 120_000);

/** One sequence in the unsharded graph, alone: its hidden states step by step. */
function alone() {
  let past: Record<string, ort.Tensor> | null = null;
  let length = 0;
  return async (ids: number[]): Promise<Float32Array> => {
    const { n_layer: L, n_head: H } = plain.manifest.architecture;
    const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor("float32", kernel.embed(ids), [1, ids.length, E]),
      attention_mask: i64(new Array(length + ids.length).fill(1)),
      position_ids: i64(positionsOf([length], ids.length)),
    };
    for (let l = 0; l < L; l++) for (const kind of ["key", "value"]) feeds[`past_key_values.${l}.${kind}`] = past?.[`present.${l}.${kind}`] ?? new ort.Tensor("float32", new Float32Array(0), [1, H, 0, E / H]);
    past = (await plain.session.run(feeds)) as Record<string, ort.Tensor>;
    length += ids.length;
    return past.hidden_states.data as Float32Array;
  };
}

/** One step of several rows through the shards; returns each row's hidden states. */
async function step(cores: ShardCore[], rows: ShardRow[], ids: number[][], release: string[] = [], lastOnly = false): Promise<Float32Array[]> {
  const seq = ids[0].length;
  const out = await pipeline(cores, { rows, seq, hidden: kernel.embed(ids.flat()), positionIds: positionsOf(rows.map((r) => r.past), seq), release }, lastOnly);
  const per = out.positions * E;
  return rows.map((_, r) => out.hidden.slice(r * per, (r + 1) * per));
}

const PROMPT_A = [3, 14, 15, 92, 65];
const PROMPT_B = [27, 18, 28];
const DECODE = [[7, 8], [9, 10], [11, 12], [13, 14]];

describe("ShardCore", () => {
  it("gives every row of a batch exactly its numbers alone, reusing the batch while the rows stay", async () => {
    const { cores } = await openCores(shardedDir);
    const [refA, refB] = [alone(), alone()];
    expect(compareBits((await step(cores, [{ id: "a", past: 0 }], [PROMPT_A]))[0], await refA(PROMPT_A))).toBe("equal");
    expect(compareBits((await step(cores, [{ id: "b", past: 0 }], [PROMPT_B]))[0], await refB(PROMPT_B))).toBe("equal");
    for (const [n, [ta, tb]] of DECODE.entries()) {
      const [a, b] = await step(cores, [{ id: "a", past: PROMPT_A.length + n }, { id: "b", past: PROMPT_B.length + n }], [[ta], [tb]]);
      expect(compareBits(a, await refA([ta])), `step ${n} row a`).toBe("equal");
      expect(compareBits(b, await refB([tb])), `step ${n} row b`).toBe("equal");
    }
    // prefill a, prefill b, then one assembled batch and three reused ones, in every shard
    expect(cores.map((c) => c.counts)).toEqual(cores.map(() => ({ assembled: 3, reused: 3 })));
    const status = await cores[1].status();
    expect(status).toMatchObject({ index: 1, rows: 2, positions: PROMPT_A.length + PROMPT_B.length + 2 * DECODE.length });
    expect(status.kvBytes).toBeGreaterThanOrEqual(status.positions * 2 * E * 4 * (status.layers[1] - status.layers[0]));
  });

  it("gives the same numbers when the batch is assembled every step as when it is reused", async () => {
    const reused = (await openCores(shardedDir)).cores;
    const assembled = (await openCores(shardedDir)).cores;
    for (const cores of [reused, assembled]) {
      await step(cores, [{ id: "a", past: 0 }, { id: "b", past: 0 }], [PROMPT_A.slice(0, 3), PROMPT_B]);
    }
    for (const [n, [ta, tb]] of DECODE.entries()) {
      const past = 3 + n;
      const [a1, b1] = await step(reused, [{ id: "a", past }, { id: "b", past }], [[ta], [tb]]);
      // the order flips every step: the rows are taken out of the batch and stacked again
      const flip = n % 2 === 0;
      const rows = [{ id: "a", past }, { id: "b", past }];
      const got = await step(assembled, flip ? rows.reverse() : rows, flip ? [[tb], [ta]] : [[ta], [tb]]);
      const [a2, b2] = flip ? got.reverse() : got;
      expect(compareBits(a2, a1), `step ${n} row a`).toBe("equal");
      expect(compareBits(b2, b1), `step ${n} row b`).toBe("equal");
    }
    expect(reused[0].counts.reused).toBe(DECODE.length);
    expect(assembled[0].counts.assembled).toBe(1 + DECODE.length); // the order changes every step
  });

  it("starts a copyOf row from its source's keys/values, leaving the source as it was", async () => {
    const { cores } = await openCores(shardedDir);
    const refA = alone();
    await refA(PROMPT_A);
    await step(cores, [{ id: "a", past: 0 }], [PROMPT_A]);
    const past = PROMPT_A.length;
    const [a, c] = await step(cores, [{ id: "a", past }, { id: "c", past, copyOf: "a" }], [[40], [40]]);
    expect(compareBits(c, a)).toBe("equal");
    expect(compareBits(a, await refA([40]))).toBe("equal");
    const [a2, c2] = await step(cores, [{ id: "a", past: past + 1 }, { id: "c", past: past + 1 }], [[41], [42]]);
    expect(compareBits(a2, await refA([41]))).toBe("equal");
    expect(compareBits(c2, a2)).not.toBe("equal");
    // A copy made while its source waits outside the step (copied tensor by tensor, the source kept):
    const [d] = await step(cores, [{ id: "d", past: past + 2, copyOf: "a" }], [[43]]);
    const [a3] = await step(cores, [{ id: "a", past: past + 2 }], [[43]]);
    expect(compareBits(a3, await refA([43]))).toBe("equal");
    expect(compareBits(d, a3)).toBe("equal");
  });

  it("throws ShardStateLost naming each row it does not hold, and changes nothing", async () => {
    const { cores } = await openCores(shardedDir);
    const refB = alone();
    await step(cores, [{ id: "a", past: 0 }, { id: "b", past: 0 }], [PROMPT_A.slice(0, 3), PROMPT_B]);
    await refB(PROMPT_B);
    await cores[0].release(["a"]);
    const attempt = step(cores, [{ id: "a", past: 3 }, { id: "b", past: 3 }, { id: "x", past: 2 }, { id: "y", past: 1, copyOf: "gone" }], [[1], [2], [3], [4]]);
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShardStateLost);
    expect((error as ShardStateLost).rowIds).toEqual(["a", "x", "y"]);
    expect(isShardStateLost(new Error((error as Error).message))).toBe(true); // as it arrives over RPC
    // b is untouched: its next step still gives its numbers alone; a step may also forget rows
    const [b] = await step(cores, [{ id: "b", past: 3 }], [[2]], ["a"]);
    expect(compareBits(b, await refB([2]))).toBe("equal");
    expect((await cores[1].status()).rows).toBe(1);
  });

  it("recomputes a step that is sent again (a retry after a later shard failed) with the same numbers", async () => {
    const { cores } = await openCores(shardedDir);
    await step(cores, [{ id: "a", past: 0 }], [PROMPT_A]);
    const first = await step(cores, [{ id: "a", past: PROMPT_A.length }], [[50]]);
    const again = await step(cores, [{ id: "a", past: PROMPT_A.length }], [[50]]);
    expect(compareBits(again[0], first[0])).toBe("equal");
    expect((await cores[0].status()).positions).toBe(PROMPT_A.length + 1);
  });

  it("returns only each row's last position when asked", async () => {
    const { cores } = await openCores(shardedDir);
    const all = await step(cores, [{ id: "a", past: 0 }, { id: "b", past: 0 }], [PROMPT_A.slice(0, 3), PROMPT_B]);
    const { cores: fresh } = await openCores(shardedDir);
    const last = await step(fresh, [{ id: "a", past: 0 }, { id: "b", past: 0 }], [PROMPT_A.slice(0, 3), PROMPT_B], [], true);
    expect(compareBits(last[0], all[0].subarray(2 * E))).toBe("equal");
    expect(compareBits(last[1], all[1].subarray(2 * E))).toBe("equal");
  });

  it("refuses a malformed step, naming the field", async () => {
    const { cores } = await openCores(shardedDir);
    const good = { rows: [{ id: "a", past: 0 }], seq: 2, hidden: new Float32Array(2 * E), positionIds: [0, 1], release: [], lastOnly: false };
    await expect(cores[0].step({ ...good, hidden: new Float32Array(E) })).rejects.toThrow(/ShardStepRequest\.hidden must be a Float32Array of rows × seq × n_embd = 128/);
    await expect(cores[0].step({ ...good, positionIds: [1, 2] })).rejects.toThrow(/positionIds\[0\] is 1, expected rows\[0\]\.past \+ 0 = 0/);
    await expect(cores[0].step({ ...good, rows: [{ id: "a", past: 0 }, { id: "a", past: 0 }] })).rejects.toThrow(/rows\[1\]\.id "a" appears twice/);
    await expect(cores[0].step({ ...good, rows: [{ id: "a", past: 127 }], positionIds: [127, 128] })).rejects.toThrow(/exceeds the model's 128 positions/);
  });
});
