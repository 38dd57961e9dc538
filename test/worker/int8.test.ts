// int8 accuracy through the real session in workerd, under teacher forcing: every position of a
// sequence is decoded one token at a time on the KV cache exactly as generation does, and its
// next-token distribution is compared with fp32 (top-1 agreement, mean KL).
// - The outlier checkpoint (GPT-2-like activation outliers, tools/synth/outliers.ts): against
//   fixtures from the independent fp32 forward (test/tools/hf-forward.ts); our int8 must reach
//   weights-only int8 (top-1 within 0.015, mean KL within 1.5×).
// - The reference checkpoints: against their fp32 conversion, on the README yardstick's
//   continuation (prompt 2's greedy continuation): at least as good as that yardstick.
import { describe, expect, it } from "vitest";
import type { KvCache } from "../../src/engine/forward";
import { compareLogits, pooled, type Int8Figures } from "../tools/logit-figures";
import { openTestModel, referenceAvailable, testFile, type Fixtures } from "./helpers";

const available = await referenceAvailable();

/** Logits [S, V] for every position of `ids`, one decode step per token. */
async function teacherForced(model: string, ids: number[]): Promise<Float32Array> {
  const { session: s, layout } = await openTestModel(model);
  let past: KvCache | null = null;
  let logits: Float32Array | null = null;
  for (const [i, id] of ids.entries()) {
    const out = await s.forward({ batch: 1, seq: 1, inputIds: [id], attentionMask: new Array(i + 1).fill(1), positionIds: [i], past });
    logits ??= new Float32Array(ids.length * out.logits[0].length);
    logits.set(out.logits[0], i * out.logits[0].length);
    past = layout.next(past, out.kv, [i], 1, false);
  }
  return logits!;
}

const fmt = (f: Int8Figures) => `${f.top1Agreement.toFixed(3)} / ${f.meanKL.toFixed(4)}`;

describe("int8 on the outlier checkpoint, in workerd", () => {
  it("reaches weights-only int8's accuracy against the fp32 fixtures", async () => {
    const { sequences } = (await (await testFile("outlier.fixtures.json")).json()) as { sequences: Record<"text" | "random", number[]> };
    const fp32 = new Float32Array(await (await testFile("outlier.logits.bin")).arrayBuffer());
    const V = fp32.length / (sequences.text.length + sequences.random.length);
    const figures = async (model: string) => {
      const each: Int8Figures[] = [];
      let offset = 0;
      for (const ids of [sequences.text, sequences.random]) {
        each.push(compareLogits(fp32.subarray(offset * V, (offset + ids.length) * V), await teacherForced(model, ids), ids.length, V));
        offset += ids.length;
      }
      return pooled(each);
    };
    const ours = await figures("outlier-int8");
    const weightsOnly = await figures("outlier-int8-weights-only");
    console.log(`outlier checkpoint (workerd), top-1 / mean KL vs fp32: ours ${fmt(ours)}, weights-only ${fmt(weightsOnly)}`);
    expect(ours.top1Agreement).toBeGreaterThanOrEqual(weightsOnly.top1Agreement - 0.015);
    expect(ours.meanKL).toBeLessThanOrEqual(1.5 * weightsOnly.meanKL);
  });
});

// README yardstick, continuation figures: [top-1, mean KL].
const YARDSTICK = { "tiny-a": [0.923, 0.003], "tiny-b": [0.923, 0.0102] } as const;

describe.each(["tiny-a", "tiny-b"] as const)("int8 %s in workerd", (name) => {
  it.skipIf(!available.includes(name))("is at least as accurate as the README yardstick on the continuation", async () => {
    const fixtures = (await (await testFile(`${name}.fixtures.json`)).json()) as Fixtures;
    const ids = fixtures.prompts[1].greedy_max_new_tokens_20;
    const fp32 = await teacherForced(`${name}-fp32`, ids);
    const figures = compareLogits(fp32, await teacherForced(`${name}-int8`, ids), ids.length, fp32.length / ids.length);
    console.log(`${name} int8 (workerd), continuation top-1 / mean KL vs fp32: ${fmt(figures)} (README yardstick ${YARDSTICK[name].join(" / ")})`);
    expect(figures.top1Agreement).toBeGreaterThanOrEqual(YARDSTICK[name][0]);
    expect(figures.meanKL).toBeLessThanOrEqual(YARDSTICK[name][1]);
  });
});
