// A fake GPT-2 for decode-loop tests: its "KV cache" stores each row's token history, and its
// logits depend on the whole history, so any mix-up of rows, positions or cache lengths changes
// the output. It behaves as a graph of either KV layout does: a left-padded graph returns the
// whole cache (`present`), a right-padded-append graph only the step's new positions; turning
// those into the next cache is the real KvLayout's job (src/engine/kv-layout.ts), not the fake's.
// `generateAlone` computes the same sequence without any cache, as a naive reference.
import type { Forward, ForwardInput, StepKv } from "../../src/engine/forward";
import { capacityOf } from "../../src/engine/kv";
import { kvLayoutFor, type KvLayout } from "../../src/engine/kv-layout";
import { BatchScheduler, type GenerationJob, type JobResult } from "../../src/engine/scheduler";
import { MANIFEST_FORMAT, type KvPadding, type ModelManifest } from "../../src/model/manifest";
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
  layout: KvLayout;
}

export interface FakeModelOptions {
  eosBias?: number;
  onStep?: (input: ForwardInput) => void;
  fail?: (input: ForwardInput) => boolean;
  /** Where shorter rows' padding sits: "left" (Optimum exports) or "right" (our graphs). */
  padding?: KvPadding;
  /** Next-token logits after a history (default: referenceLogits with eosBias). */
  logits?: (history: number[]) => Float32Array;
}

/** A manifest for the fake model's one-head, one-number-per-position "cache". */
export function fakeManifest(padding: KvPadding = "left"): ModelManifest {
  return {
    format: MANIFEST_FORMAT, name: "fake", dtype: "fp32", created_by: "test",
    architecture: { model_type: "gpt2", n_layer: 1, n_head: 1, n_embd: 1, n_positions: 1024, vocab_size: VOCAB, layer_norm_epsilon: 1e-5 },
    tokenizer: { name: "r50k_base", eos_token_id: 50256, bos_token_id: 50256 },
    io: { inputs: [], outputs: [], kv_padding: padding },
    files: [], source: { checkpoint: "fake", config_sha256: "", weights_sha256: "" },
  };
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
    const fresh = Float32Array.from(input.inputIds);
    let kv: StepKv;
    if (right) {
      kv = { positions: input.seq, tensors: [fresh, fresh.slice()] };
    } else {
      // The whole cache, padding included (as zeros), like a real present.
      const tensor = new Float32Array(input.batch * total);
      for (let row = 0; row < input.batch; row++) {
        const stride = input.past ? capacityOf(input.past) : 0;
        const cached = input.past ? input.past.tensors[0].subarray(row * stride, row * stride + pastLength) : new Float32Array(0);
        tensor.set(cached, row * total);
        tensor.set(fresh.subarray(row * input.seq, (row + 1) * input.seq), row * total + pastLength);
      }
      kv = { positions: total, tensors: [tensor, tensor.slice()] };
    }
    // Each row's last `logitPositions` positions, oldest first (a step verifying draft tokens).
    const positions = input.logitPositions ?? 1;
    const next = options.logits ?? ((h: number[]) => referenceLogits(h, options.eosBias));
    if (positions > 1) return { logits: [], positionLogits: (row, i) => next(histories[row].slice(0, histories[row].length - positions + 1 + i)), kv };
    return { logits: histories.map((h) => next(h)), kv };
  };
  return { forward, calls, layout: kvLayoutFor(fakeManifest(options.padding ?? "left")) };
}

/** A scheduler over the fake model (or any forward with its layout). */
export function fakeScheduler(model: FakeModel, limits = { maxBatchRows: 8, maxWaiting: 8 }, pause?: () => Promise<void>, promptLookup = false): BatchScheduler {
  return new BatchScheduler(model.forward, model.layout, limits, { pause, promptLookup });
}

/** One request alone through a scheduler of its own (what generate() does for one request). */
export function generateWith(model: FakeModel, job: GenerationJob, pause?: () => Promise<void>): Promise<JobResult> {
  return fakeScheduler(model, { maxBatchRows: job.numSequences, maxWaiting: 1 }, pause).submit(job);
}

/** What a sequence generates on the fake model with no cache and no batch: the reference output. */
export function generateAlone(prompt: number[], sampling: SamplingSettings, seed: number, maxNew: number, eosBias = 0, next = (h: number[]) => referenceLogits(h, eosBias)): number[] {
  const EOS = 50256;
  const chooser = createTokenChooser(sampling, { eosTokenIds: [EOS], promptIds: prompt, random: createRng(seed) });
  const history = [...prompt];
  const out: number[] = [];
  while (out.length < maxNew) {
    const token = chooser.next(next(history));
    if (token === EOS) break;
    chooser.accept(token);
    history.push(token);
    out.push(token);
  }
  return out;
}
