import { describe, expect, it } from "vitest";
import { mergePiece, type MergeWork, type PairMerge } from "../../src/tokenizer/bpe";
import { encodeWithin } from "../../src/tokenizer/index";
import { gpt2Vocabulary } from "../../src/tokenizer/vocabulary";
import { createUint32Rng } from "../../src/sampling/rng";

const vocabulary = gpt2Vocabulary();
const MAX_BODY_BYTES = 128 * 1024;

/**
 * The textbook merge (what GPT-2's encoder, tiktoken and gpt-tokenizer do): rescan every adjacent
 * pair, merge the lowest rank, leftmost first, until no pair merges. Quadratic; counts its steps
 * the way mergePiece does (one per pair look-up or pair visited).
 */
function rescanningMerge(bytes: Uint8Array, merge: PairMerge, work: MergeWork): number[] {
  const parts = Array.from(bytes, (b) => vocabulary.byteToken[b]);
  for (;;) {
    let best = -1;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = merge(parts[i], parts[i + 1]);
      work.steps++;
      if (rank >= 0 && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) return parts;
    parts.splice(best, 2, bestRank);
  }
}

function ourMerge(bytes: Uint8Array, work?: MergeWork): number[] {
  const parts = Int32Array.from(bytes, (b) => vocabulary.byteToken[b]);
  const out: number[] = [];
  mergePiece(parts, bytes.length, vocabulary.merge, out, work);
  return out;
}

/** Generous n log n bound (measured: ≤ 3.2 · n · log2 n on runs of one character). */
const workBound = (bytes: number) => 6 * bytes * Math.log2(bytes);

describe("mergePiece", () => {
  it("merges every token's bytes back into that token (no whole-piece shortcut needed)", () => {
    const mismatches: number[] = [];
    for (let id = 0; id < vocabulary.offsets.length - 2; id++) {
      const merged = ourMerge(vocabulary.data.subarray(vocabulary.offsets[id], vocabulary.offsets[id + 1]));
      if (merged.length !== 1 || merged[0] !== id) mismatches.push(id);
    }
    expect(mismatches).toEqual([]);
  });

  it("merges in the rescanning merge's order (lowest rank, leftmost first) on random and repetitive bytes", () => {
    const next = createUint32Rng(10);
    const alphabets = [
      new TextEncoder().encode("aaaab  \n\t.-—,;'07中日ü🙂"),
      Uint8Array.from({ length: 256 }, (_, b) => b),
      new TextEncoder().encode("ab"),
      new TextEncoder().encode("9"),
    ];
    for (let round = 0; round < 600; round++) {
      const alphabet = alphabets[round % alphabets.length];
      const bytes = Uint8Array.from({ length: 1 + (next() % 300) }, () => alphabet[next() % alphabet.length]);
      expect(ourMerge(bytes), `bytes ${Array.from(bytes).join(",")}`).toEqual(rescanningMerge(bytes, vocabulary.merge, { steps: 0 }));
    }
  });

  it("the work bound separates n log n from the rescanning merge (so the bounds below can fail)", () => {
    const bytes = new TextEncoder().encode("a".repeat(4096));
    const rescanning = { steps: 0 };
    const ours = { steps: 0 };
    expect(ourMerge(bytes, ours)).toEqual(rescanningMerge(bytes, vocabulary.merge, rescanning));
    expect(ours.steps).toBeLessThanOrEqual(workBound(bytes.length));
    expect(rescanning.steps).toBeGreaterThan(20 * workBound(bytes.length));
  });
});

describe("tokenizer work on one 128 KiB piece", () => {
  const singlePieces: [string, string][] = [
    ["letters", "a".repeat(MAX_BODY_BYTES)],
    ["two letters", "ab".repeat(MAX_BODY_BYTES / 2)],
    ["digits", "7".repeat(MAX_BODY_BYTES)],
    ["punctuation", "!".repeat(MAX_BODY_BYTES)],
    ["dashes", "-".repeat(MAX_BODY_BYTES)],
    ["CJK", "中".repeat(Math.floor(MAX_BODY_BYTES / 3))],
  ];

  it.each(singlePieces)("%s: n log n merge steps, and 8x the text is ~8x the work", (_label, text) => {
    const bytes = new TextEncoder().encode(text).length;
    const whole = { steps: 0 };
    const eighth = { steps: 0 };
    encodeWithin(text, Number.POSITIVE_INFINITY, whole);
    encodeWithin(text.slice(0, text.length / 8), Number.POSITIVE_INFINITY, eighth);
    expect(whole.steps).toBeLessThanOrEqual(workBound(bytes));
    // Linear: 8; n log n: ~9.8; the rescanning merge: ~64.
    expect(whole.steps / eighth.steps).toBeLessThan(12);
  });

  it("stops at the first piece past the limit: a 128 KiB prompt of many pieces costs a window's worth", () => {
    const text = " word".repeat(MAX_BODY_BYTES / 5);
    const limited = { steps: 0 };
    const unlimited = { steps: 0 };
    expect(encodeWithin(text, 1023, limited)).toEqual({ fits: false, moreThan: 1023 });
    encodeWithin(text, Number.POSITIVE_INFINITY, unlimited);
    // 1024 of the text's 26214 pieces were merged.
    expect(limited.steps * 20).toBeLessThan(unlimited.steps);
  });

  it("does not merge a piece that cannot fit whatever it merges into", () => {
    const work = { steps: 0 };
    expect(encodeWithin("a".repeat(vocabulary.maxTokenBytes * 1024 + 1), 1023, work)).toEqual({ fits: false, moreThan: 1023 });
    expect(work.steps).toBe(0);
  });

  it("gives every id when they fit, exactly the limit included", () => {
    const ids = encodeWithin(" word".repeat(1023), Number.POSITIVE_INFINITY);
    expect(ids).toMatchObject({ fits: true });
    expect(encodeWithin(" word".repeat(1023), 1023)).toEqual(ids);
    expect(encodeWithin(" word".repeat(1024), 1023)).toEqual({ fits: false, moreThan: 1023 });
  });
});
