// fp32 conversion of both reference checkpoints reproduces transformers: logits, KV cache,
// padded batches (both graph layouts) and greedy generations.
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { argmax, batchedGreedyRightPadded, forward, greedy, lastLogits, loadModel, logitsAt, type LoadedModel } from "./ort-runner.js";
import { CACHE_DIR, CHECKPOINTS, REFERENCE_DIR, VOCAB, fixtures, maxAbsDiff, referenceLogits } from "./reference.js";

const i64 = (rows: number[][]) => new ort.Tensor("int64", BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0].length]);

describe.each(CHECKPOINTS)("fp32 %s", (name) => {
  const fx = fixtures(name);
  // `model` is the served graph (logits of the last position only); `allPositions` is the same
  // conversion with logits for every position, which logits_sum needs.
  let model: LoadedModel;
  let allPositions: LoadedModel;
  /** The MultiHeadAttention graph, which reads left-padded batches as Hugging Face does. */
  let mha: LoadedModel;

  beforeAll(async () => {
    const manifest = await convertCheckpoint(`${REFERENCE_DIR}/${name}`, { dtype: "fp32", outDir: `${CACHE_DIR}${name}-fp32-last` });
    expect(manifest.files.map((f) => f.role)).toEqual(["graph", "weights"]);
    model = await loadModel(`${CACHE_DIR}${name}-fp32-last`);
    expect(model.session.inputNames).toEqual(manifest.io.inputs);
    expect(model.session.outputNames).toEqual(manifest.io.outputs);
    await convertCheckpoint(`${REFERENCE_DIR}/${name}`, { dtype: "fp32", outDir: `${CACHE_DIR}${name}-fp32`, logits: "all" });
    allPositions = await loadModel(`${CACHE_DIR}${name}-fp32`);
    const mhaManifest = await convertCheckpoint(`${REFERENCE_DIR}/${name}`, { dtype: "fp32", outDir: `${CACHE_DIR}${name}-fp32-mha`, attention: "mha" });
    expect([manifest.io.kv_padding, mhaManifest.io.kv_padding]).toEqual(["right", "left"]);
    mha = await loadModel(`${CACHE_DIR}${name}-fp32-mha`);
  });

  it("served graph: last-position logits [batch, 1, vocab] within 1e-4 of the reference", async () => {
    const reference = referenceLogits(name);
    for (const [i, p] of fx.prompts.entries()) {
      const { logits } = await forward(model, [p.prompt_ids]);
      expect(logits.length).toBe(VOCAB);
      expect(maxAbsDiff(logits, reference.subarray(i * VOCAB, (i + 1) * VOCAB))).toBeLessThan(1e-4);
    }
  });

  it("matches the reference last-position logits and logits_sum of every prompt", async () => {
    const reference = referenceLogits(name);
    for (const [i, p] of fx.prompts.entries()) {
      const S = p.prompt_ids.length;
      const { logits } = await forward(allPositions, [p.prompt_ids]);
      const last = logitsAt(logits, S, VOCAB, 0, S - 1);
      expect(maxAbsDiff(last, reference.subarray(i * VOCAB, (i + 1) * VOCAB))).toBeLessThan(1e-4);
      let sum = 0;
      for (const v of logits) sum += v;
      // The sum over S·V logits cancels heavily (e.g. -249 from ~1e6 terms of ±10), so a pure relative
      // 1e-5 bound would be tighter than float32 rounding; allow 1e-5 relative plus 1e-4·sqrt(terms).
      expect(Math.abs(sum - p.logits_sum)).toBeLessThan(1e-5 * Math.abs(p.logits_sum) + 1e-4 * Math.sqrt(logits.length));
    }
  });

  it("gives the same logits with the KV cache (prefill n-1, then one step)", async () => {
    for (const p of fx.prompts.filter((q) => q.prompt_ids.length > 1)) {
      const ids = p.prompt_ids;
      const full = await forward(model, [ids]);
      const prefix = await forward(model, [ids.slice(0, -1)]);
      const step = await forward(model, [ids.slice(-1)], { past: prefix.present });
      const expected = lastLogits(full.logits, 1, VOCAB, 0);
      expect(maxAbsDiff(logitsAt(step.logits, 1, VOCAB, 0, 0), expected)).toBeLessThan(1e-4);
      expect(step.present["present.0.key"].dims).toEqual([1, model.nHead, ids.length, model.headDim]);
    }
  });

  it("new_key_values are exactly the new positions of present (what the runtime appends)", async () => {
    const ids = fx.prompts[1].prompt_ids;
    const { nHead: H, headDim: D } = model;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64([ids.slice(-3)]), attention_mask: i64([ids.map(() => 1)]), position_ids: i64([[0, 1, 2].map((i) => ids.length - 3 + i)]),
    };
    const prefix = await forward(model, [ids.slice(0, -3)]);
    for (const [name, t] of Object.entries(prefix.present)) feeds[name.replace("present.", "past_key_values.")] = t;
    const out = await model.session.run(feeds);
    for (let l = 0; l < model.nLayer; l++) {
      for (const kind of ["key", "value"]) {
        const present = out[`present.${l}.${kind}`].data as Float32Array;
        const fresh = out[`new_key_values.${l}.${kind}`];
        expect(fresh.dims).toEqual([1, H, 3, D]);
        for (let h = 0; h < H; h++) {
          const tail = present.subarray((h * ids.length + ids.length - 3) * D, (h + 1) * ids.length * D);
          expect(Array.from((fresh.data as Float32Array).subarray(h * 3 * D, (h + 1) * 3 * D))).toEqual(Array.from(tail));
        }
      }
    }
  });

  it("right-padded (served graph): each row's logits are bit-identical to the row alone; batched greedy output reproduced", async () => {
    const batch = fx.batched_left_padded_greedy_max_new_16;
    const prompts = batch.input_ids.map((row, r) => row.filter((_, j) => batch.attention_mask[r][j] === 1));
    const newTokens = batch.output_ids[0].length - batch.input_ids[0].length;
    const together = await batchedGreedyRightPadded(model, prompts, newTokens - 1);
    for (const [r, prompt] of prompts.entries()) {
      const alone = await batchedGreedyRightPadded(model, [prompt], newTokens - 1);
      alone.stepLogits.forEach((rows, n) => expect(maxAbsDiff(together.stepLogits[n][r], rows[0])).toBe(0));
      // Hugging Face's batch is left-padded: the same tokens after its padding.
      expect(together.tokens[r]).toEqual(batch.output_ids[r].filter((_, j) => j >= batch.input_ids[r].length || batch.attention_mask[r][j] === 1));
    }
  });

  it("left-padded (MultiHeadAttention graph): a batch like each prompt alone, and the batched greedy output", async () => {
    const model = mha;
    const batch = fx.batched_left_padded_greedy_max_new_16;
    const mask = batch.attention_mask;
    // transformers: position_ids = cumsum(mask) - 1, with padded positions set to 1.
    const positionsFor = (row: number[]) => {
      let seen = 0;
      return row.map((m) => (m ? seen++ : 1));
    };
    const S = batch.input_ids[0].length;
    let step = await forward(model, batch.input_ids, { mask, positions: mask.map(positionsFor) });
    for (let row = 0; row < batch.input_ids.length; row++) {
      const alone = batch.input_ids[row].filter((_, j) => mask[row][j] === 1);
      const single = await forward(model, [alone]);
      const expected = lastLogits(single.logits, 1, VOCAB, 0);
      expect(maxAbsDiff(lastLogits(step.logits, batch.input_ids.length, VOCAB, row), expected)).toBeLessThan(1e-4);
    }
    // Batched greedy decoding with the cache, as the runtime will do for concurrent requests.
    const tokens = batch.input_ids.map((r) => [...r]);
    const runningMask = mask.map((r) => [...r]);
    const nextPos = mask.map((r) => r.reduce((a, b) => a + b, 0));
    const newTokens = batch.output_ids[0].length - S;
    for (let n = 0; n < newTokens; n++) {
      const next = tokens.map((_, row) => argmax(lastLogits(step.logits, tokens.length, VOCAB, row)));
      next.forEach((t, row) => (tokens[row].push(t), runningMask[row].push(1)));
      if (n + 1 === newTokens) break;
      step = await forward(model, next.map((t) => [t]), {
        mask: runningMask,
        positions: nextPos.map((p) => [p + n]),
        past: step.present,
      });
    }
    expect(tokens).toEqual(batch.output_ids);
  });

  it("reproduces greedy_max_new_tokens_20 for every prompt", async () => {
    for (const p of fx.prompts) {
      expect(await greedy(model, p.prompt_ids, 20)).toEqual(p.greedy_max_new_tokens_20);
    }
  });
});
