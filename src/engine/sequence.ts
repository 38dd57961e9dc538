// One generated sequence: its token chooser (processors + sampler + RNG), its UTF-8 decoder, its
// stopping criteria and its stream position. Owned by the scheduler's batch while it runs.
import { createTokenChooser, type SamplingSettings, type TokenChooser } from "../sampling/index";
import { createPenaltyProcessor, type PenaltyProcessor, type PenaltySettings } from "../sampling/penalties";
import { createRng, deriveSeed } from "../sampling/rng";
import { IncrementalDecoder } from "../tokenizer/index";
import { tokenLogprobs, type TokenLogprobs } from "./logprobs";
import { findStop, stopHoldback, type FinishReason } from "./stopping";

/**
 * Streaming: told about every token and every finished sequence, in order. Text deltas never split
 * a UTF-8 character and never contain (part of) a stop string: text that could still become a
 * stop string is held back until it cannot.
 */
export interface GenerationListener {
  /** `logprobs` is present when the request asked for them (SequenceSpec.logprobs). */
  token(index: number, tokenId: number, delta: string, logprobs?: TokenLogprobs): void;
  finish(index: number, reason: FinishReason, delta: string): void;
}

export interface SequenceSpec {
  promptIds: number[];
  maxNewTokens: number;
  sampling: SamplingSettings;
  seed: number;
  stop: readonly string[];
  eosTokenId: number;
  listener?: GenerationListener;
  /** OpenAI's presence/frequency penalties and logit_bias, applied before Hugging Face's processors. */
  penalties?: PenaltySettings;
  /** Report the chosen token's log-probability and the top N (raw model distribution); absent = none. */
  logprobs?: number;
}

export interface SequenceResult {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason;
}

export class Sequence {
  readonly tokenIds: number[] = [];
  private text = "";
  private emitted = 0; // characters of `text` already handed to the listener
  private reason: FinishReason | null = null;
  private completed = false;
  private readonly chooser: TokenChooser;
  private readonly penalties: PenaltyProcessor | null;
  private readonly decoder = new IncrementalDecoder();

  /** Sequence `index` of a request draws from the stream deriveSeed(seed, index). */
  constructor(readonly index: number, private readonly spec: SequenceSpec) {
    this.chooser = createTokenChooser(spec.sampling, {
      eosTokenIds: [spec.eosTokenId],
      promptIds: spec.promptIds,
      random: createRng(deriveSeed(spec.seed, index)),
    });
    this.penalties = spec.penalties ? createPenaltyProcessor(spec.penalties) : null;
  }

  get finished(): boolean {
    return this.reason !== null;
  }

  get lastToken(): number {
    return this.tokenIds[this.tokenIds.length - 1];
  }

  /** Choose the next token from this sequence's logits row and apply its stopping criteria. */
  advance(logits: Float32Array): void {
    // Log-probabilities describe the model's own distribution, before any setting changes the row.
    const raw = this.spec.logprobs !== undefined && this.spec.listener ? logits.slice() : null;
    this.penalties?.apply(logits);
    const token = this.chooser.next(logits);
    if (token === this.spec.eosTokenId) {
      this.reason = "stop"; // like a stop string, <|endoftext|> itself is not returned
      return;
    }
    this.chooser.accept(token);
    this.penalties?.accept(token);
    this.tokenIds.push(token);
    const fresh = this.text.length;
    this.text += this.decoder.push(token);
    const cut = this.spec.stop.length > 0 ? findStop(this.text, fresh, this.spec.stop) : -1;
    if (cut >= 0) {
      this.text = this.text.slice(0, cut);
      this.reason = "stop";
    } else if (this.tokenIds.length >= this.spec.maxNewTokens) {
      this.reason = "length";
    }
    const listener = this.spec.listener;
    if (listener) {
      // Once finished, the text is final (a stop string already cut): nothing need be held back.
      const safe = this.reason ? this.text.length : Math.max(this.emitted, this.text.length - stopHoldback(this.text, this.spec.stop));
      const logprobs = raw ? tokenLogprobs(raw, token, this.spec.logprobs!) : undefined;
      listener.token(this.index, token, this.text.slice(this.emitted, safe), logprobs);
      this.emitted = safe;
    }
  }

  /** End a still-running sequence for a reason outside it (deadline, cancellation). */
  interrupt(reason: FinishReason): void {
    this.reason ??= reason;
  }

  /** Once finished: complete the text and tell the listener the rest of it (exactly once). */
  complete(): SequenceResult {
    if (!this.completed) {
      this.completed = true;
      if (this.reason !== "stop") this.text += this.decoder.flush();
      this.spec.listener?.finish(this.index, this.reason ?? "length", this.text.slice(this.emitted));
      this.emitted = this.text.length;
    }
    return { tokenIds: this.tokenIds, text: this.text, finishReason: this.reason ?? "length" };
  }
}
