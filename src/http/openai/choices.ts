// Building OpenAI completion choices from decode-loop events: text, finish_reason and the legacy
// `logprobs` object ({tokens, token_logprobs, top_logprobs, text_offset}).
import type { TokenLogprobs } from "../../engine/logprobs";
import type { FinishReason } from "../../engine/stopping";
import { IncrementalDecoder, tokenToBytes } from "../../tokenizer/index";

export type OpenAIFinishReason = "stop" | "length";

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: CompletionLogprobs | null;
  finish_reason: OpenAIFinishReason | null;
}

/** OpenAI knows only "stop" and "length": a spent time budget ends the text like a token limit. */
export const openAIFinishReason = (reason: FinishReason): OpenAIFinishReason => (reason === "stop" ? "stop" : "length");

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A token as OpenAI shows it: its text, or "bytes:\xe2\x80" when it is part of a character. */
export function tokenString(tokenId: number): string {
  const bytes = tokenToBytes(tokenId);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return "bytes:" + Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
  }
}

/** Logprob entries for one choice; text_offset counts characters of the choice's text. */
export class LogprobsTracker {
  private readonly decoder = new IncrementalDecoder();
  private offset: number;

  constructor(startOffset: number) {
    this.offset = startOffset;
  }

  /** The entries for one generated token (also what a streamed chunk carries). */
  next(tokenId: number, logprobs: TokenLogprobs): CompletionLogprobs {
    const entry: CompletionLogprobs = {
      tokens: [tokenString(tokenId)],
      token_logprobs: [logprobs.logprob],
      top_logprobs: [Object.fromEntries(logprobs.top.map((t) => [tokenString(t.tokenId), t.logprob]))],
      text_offset: [this.offset],
    };
    this.offset += this.decoder.push(tokenId).length;
    return entry;
  }
}

export function appendLogprobs(into: CompletionLogprobs, entry: CompletionLogprobs): void {
  into.tokens.push(...entry.tokens);
  into.token_logprobs.push(...entry.token_logprobs);
  into.top_logprobs.push(...entry.top_logprobs);
  into.text_offset.push(...entry.text_offset);
}

export const emptyLogprobs = (): CompletionLogprobs => ({ tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] });
