// The decode loop, Hugging Face generate() semantics: prefill the prompt once, then one token per
// step per sequence, feeding each step's present keys/values back as the next step's past.
// It takes `forward` as a parameter, so tests drive it with a fake model.
import { createTokenChooser, type SamplingSettings } from "../sampling/index";
import { createRng, deriveSeed } from "../sampling/rng";
import { IncrementalDecoder } from "../tokenizer/index";
import { repeatRows, selectRows, type Forward, type KvCache } from "./forward";
import { batchInterrupt, findStop, stopHoldback, type Budget, type FinishReason } from "./stopping";

export interface GenerateOptions {
  /** Never empty: an empty prompt is replaced by the BOS token before this point. */
  promptIds: number[];
  /** Already bounded by max_length, the hard cap and the context window. */
  maxNewTokens: number;
  numSequences: number;
  sampling: SamplingSettings;
  /** Sequence i draws from the stream deriveSeed(seed, i): same request + seed → same text. */
  seed: number;
  stop: readonly string[];
  eosTokenId: number;
  budget: Budget;
  /** Lets other requests and I/O run between steps. */
  pause?: () => Promise<void>;
  /** Streaming: told about every token and every finished sequence, in order. */
  listener?: GenerationListener;
}

/**
 * Text deltas never split a UTF-8 character and never contain (part of) a stop string: text that
 * could still become a stop string is held back until it cannot.
 */
export interface GenerationListener {
  token(index: number, tokenId: number, delta: string): void;
  finish(index: number, reason: FinishReason, delta: string): void;
}

export interface SequenceResult {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason;
}

export interface GenerateResult {
  sequences: SequenceResult[];
  prefillMs: number;
  decodeMs: number;
  /** Forward steps after prefill. */
  steps: number;
}

interface Row {
  index: number;
  tokenIds: number[];
  text: string;
  /** Characters of `text` already handed to the listener. */
  emitted: number;
  finishReason: FinishReason | null;
  chooser: ReturnType<typeof createTokenChooser>;
  decoder: IncrementalDecoder;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export async function generate(forward: Forward, options: GenerateOptions): Promise<GenerateResult> {
  const { promptIds, numSequences, budget } = options;
  const pause = options.pause ?? yieldToEventLoop;
  const rows: Row[] = Array.from({ length: numSequences }, (_, index) => ({
    index,
    tokenIds: [],
    text: "",
    emitted: 0,
    finishReason: null,
    chooser: createTokenChooser(options.sampling, {
      eosTokenIds: [options.eosTokenId],
      promptIds,
      random: createRng(deriveSeed(options.seed, index)),
    }),
    decoder: new IncrementalDecoder(),
  }));

  // Prefill once for all sequences: they share the prompt, so its keys/values are computed once
  // and repeated per row.
  const started = budget.now();
  const prefill = await forward({
    batch: 1,
    seq: promptIds.length,
    inputIds: promptIds,
    attentionMask: promptIds.map(() => 1),
    positionIds: promptIds.map((_, i) => i),
    past: null,
  });
  const prefillMs = budget.now() - started;
  let kv: KvCache = repeatRows(prefill.present, numSequences);
  let logits = rows.map((_, i) => (i === 0 ? prefill.logits[0] : prefill.logits[0].slice()));
  let active = rows.map((_, i) => i); // rows still generating, in kv batch order
  let steps = 0;

  while (active.length > 0) {
    active.forEach((rowIndex, batchIndex) => advance(rows[rowIndex], logits[batchIndex], options));
    const interrupt = batchInterrupt(budget);
    const next = active.filter((rowIndex) => rows[rowIndex].finishReason === null);
    if (interrupt) for (const rowIndex of next) rows[rowIndex].finishReason = interrupt;
    for (const rowIndex of active) if (rows[rowIndex].finishReason !== null) finish(rows[rowIndex], options);
    if (interrupt || next.length === 0) break;

    kv = selectRows(kv, next.map((rowIndex) => active.indexOf(rowIndex)));
    active = next;
    await pause();
    const output = await forward({
      batch: active.length,
      seq: 1,
      inputIds: active.map((rowIndex) => rows[rowIndex].tokenIds[rows[rowIndex].tokenIds.length - 1]),
      attentionMask: new Array(active.length * (kv.length + 1)).fill(1),
      positionIds: active.map(() => kv.length),
      past: kv,
    });
    kv = output.present;
    logits = output.logits;
    steps++;
  }

  return {
    sequences: rows.map((row) => ({ tokenIds: row.tokenIds, text: row.text, finishReason: row.finishReason ?? "length" })),
    prefillMs,
    decodeMs: budget.now() - started - prefillMs,
    steps,
  };
}

/** Complete a finished row's text and tell the listener the rest of it. */
function finish(row: Row, options: GenerateOptions): void {
  if (row.finishReason !== "stop") row.text += row.decoder.flush();
  options.listener?.finish(row.index, row.finishReason!, row.text.slice(row.emitted));
  row.emitted = row.text.length;
}

/** Choose one token for a row and apply the per-sequence stopping criteria. */
function advance(row: Row, logits: Float32Array, options: GenerateOptions): void {
  const token = row.chooser.next(logits);
  if (token === options.eosTokenId) {
    row.finishReason = "stop"; // like a stop string, <|endoftext|> itself is not returned
    return;
  }
  row.chooser.accept(token);
  row.tokenIds.push(token);
  const fresh = row.text.length;
  row.text += row.decoder.push(token);
  const cut = options.stop.length > 0 ? findStop(row.text, fresh, options.stop) : -1;
  if (cut >= 0) {
    row.text = row.text.slice(0, cut);
    row.finishReason = "stop";
  } else if (row.tokenIds.length >= options.maxNewTokens) {
    row.finishReason = "length";
  }
  if (options.listener) {
    // A finished row's remaining text goes out with its finish event.
    const safe = row.finishReason ? row.emitted : Math.max(row.emitted, row.text.length - stopHoldback(row.text, options.stop));
    options.listener.token(row.index, token, row.text.slice(row.emitted, safe));
    row.emitted = safe;
  }
}
