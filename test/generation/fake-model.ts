// A fake GPT-2 for decode-loop tests: its "KV cache" stores each row's token history, and its
// logits depend on the whole history, so any mix-up of rows, positions or cache lengths changes
// the output. `referenceNext` computes the same logits without any cache, for a naive reference.
import type { Forward, ForwardInput, KvCache } from "../../src/generation/forward";
import { appendRightPadded, capacityOf } from "../../src/generation/kv";
import type { KvPadding } from "../../src/model/manifest";
import { createTokenChooser, type SamplingSettings } from "../../src/sampling/index";
import { createRng } from "../../src/sampling/rng";

export const VOCAB = 50257;

/** Logits for the next token after `history`: a spread over a few history-dependent tokens. */
export function referenceLogits(history: number[], eosBias = 0): Float32Array {
  const logits = new Float32Array(VOCAB).fill(-10);
  let h = 17;
  for (const t of history) h = (Math.imul(h, 31) + t) >>> 0;
  for (let k = 0; k < 4; k++) logits[(h + k * 7919) % 50000] = 5 - k * 0.5;
  logits[50256] = -10 + eosBias;
  return logits;
}

export interface FakeModel {
  forward: Forward;
  calls: ForwardInput[];
}

export interface FakeModelOptions {
  eosBias?: number;
  onStep?: (input: ForwardInput) => void;
  fail?: (input: ForwardInput) => boolean;
  /** Where shorter rows' padding sits in the cache: "left" (MultiHeadAttention graphs) or "right"
   * (GroupQueryAttention: a row's new keys are written right after its own, not at the end). */
  padding?: KvPadding;
  /** Right padding only: return just the new positions for the session-side append (our graphs,
   * default) or, like GroupQueryAttention's `present`, the whole cache as long as the past buffer. */
  newKeysOnly?: boolean;
}

export function fakeModel(options: FakeModelOptions = {}): FakeModel {
  const right = options.padding === "right";
  const calls: ForwardInput[] = [];
  const forward: Forward = async (input) => {
    calls.push(input);
    options.onStep?.(input);
    if (options.fail?.(input)) throw new Error("fake model failure");
    const pastLength = input.past?.length ?? 0;
    const total = pastLength + input.seq;
    if (input.past && input.past.batch !== input.batch) throw new Error("past batch differs from input batch");
    if (input.attentionMask.length !== input.batch * total) throw new Error("attention mask has the wrong length");
    const histories: number[][] = [];
    for (let row = 0; row < input.batch; row++) {
      const mask = input.attentionMask.slice(row * total, (row + 1) * total);
      const stride = input.past ? capacityOf(input.past) : 0;
      const cached = input.past ? Array.from(input.past.tensors[0].subarray(row * stride, row * stride + pastLength)) : [];
      // Padding: masked positions are not part of the row's history and must hold no data.
      const past = cached.filter((value, i) => {
        if (!mask[i] && value !== 0) throw new Error("a masked (padding) position holds data");
        return mask[i] === 1;
      });
      const pastMask = mask.slice(0, pastLength);
      const firstData = pastMask.indexOf(1);
      const contiguous = past.length === 0 || pastMask.lastIndexOf(1) - firstData + 1 === past.length;
      if (!contiguous || (past.length > 0 && (right ? firstData !== 0 : firstData + past.length !== pastLength))) {
        throw new Error(`padding is not all on the ${right ? "right" : "left"}`);
      }
      if (mask.slice(pastLength).some((m) => m !== 1)) throw new Error("new tokens must be visible");
      const fresh = input.inputIds.slice(row * input.seq, (row + 1) * input.seq);
      input.positionIds.slice(row * input.seq, (row + 1) * input.seq).forEach((p, i) => {
        if (p !== past.length + i) throw new Error(`position ${p} where ${past.length + i} was expected`);
      });
      histories.push([...past, ...fresh]);
    }
    // The "cache" keeps every position (padding included, as zeros) like a real one would. On the
    // right-padded layout it returns only the new positions and appends them after each row's own
    // data, as the session does with GroupQueryAttention graphs (in place where there is headroom).
    const fresh = Float32Array.from(input.inputIds);
    let present: KvCache;
    if (right && input.past && options.newKeysOnly !== false) {
      const lengths = histories.map((h) => h.length - input.seq);
      present = appendRightPadded(input.past, [fresh, fresh.slice()], lengths, input.seq, input.reusePast ?? false);
    } else if (right && input.past) {
      const capacity = Math.max(total, capacityOf(input.past));
      const tensor = new Float32Array(input.batch * capacity);
      histories.forEach((history, row) => tensor.set(history, row * capacity));
      present = { batch: input.batch, heads: 1, length: total, capacity, tensors: [tensor, tensor.slice()] };
    } else {
      const tensor = new Float32Array(input.batch * total);
      for (let row = 0; row < input.batch; row++) {
        const stride = input.past ? capacityOf(input.past) : 0;
        const cached = input.past ? input.past.tensors[0].subarray(row * stride, row * stride + pastLength) : new Float32Array(0);
        tensor.set(cached, row * total);
        tensor.set(fresh.subarray(row * input.seq, (row + 1) * input.seq), row * total + pastLength);
      }
      present = { batch: input.batch, heads: 1, length: total, tensors: [tensor, tensor.slice()] };
    }
    return { logits: histories.map((h) => referenceLogits(h, options.eosBias)), present };
  };
  return { forward, calls };
}

/** What a sequence generates on the fake model with no cache and no batch: the reference output. */
export function generateAlone(prompt: number[], sampling: SamplingSettings, seed: number, maxNew: number, eosBias = 0): number[] {
  const EOS = 50256;
  const chooser = createTokenChooser(sampling, { eosTokenIds: [EOS], promptIds: prompt, random: createRng(seed) });
  const history = [...prompt];
  const out: number[] = [];
  while (out.length < maxNew) {
    const token = chooser.next(referenceLogits(history, eosBias));
    if (token === EOS) break;
    chooser.accept(token);
    history.push(token);
    out.push(token);
  }
  return out;
}
