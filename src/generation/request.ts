// What a caller asks of the generation service, whatever the transport: Hugging Face generate()'s
// names and meanings, plus OpenAI's penalties and logit_bias. http/ validates JSON into this shape
// (its zod schema must produce it: checked at compile time there); RPC and OpenAI routes map onto it.
import { NO_PENALTIES, type PenaltySettings } from "../sampling/penalties";

export interface GenerateRequest {
  prompt: string;
  max_new_tokens?: number;
  max_length?: number;
  min_new_tokens?: number;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  repetition_penalty?: number;
  no_repeat_ngram_size?: number;
  /** Prompt-lookup decoding: draft tokens per step (0 = off); the output is the same either way. */
  prompt_lookup_num_tokens?: number;
  num_return_sequences?: number;
  seed?: number;
  stop?: string[];
  presence_penalty?: number;
  frequency_penalty?: number;
  /** {"<token id>": bias}, added to the raw logits. */
  logit_bias?: Record<string, number>;
  /** false: neither read nor write the response cache. */
  cache?: boolean;
  /** Report each token's log-probability and the top N (OpenAI's `logprobs`); absent = none. Such
   * requests are never answered from the response cache. */
  logprobs?: number;
}

/** The request's OpenAI-style adjustments, for the decode loop (NO_PENALTIES when none is set). */
export function penaltiesOf(request: GenerateRequest): PenaltySettings {
  const { presence_penalty: presence = 0, frequency_penalty: frequency = 0, logit_bias: bias } = request;
  if (presence === 0 && frequency === 0 && (!bias || Object.keys(bias).length === 0)) return NO_PENALTIES;
  return {
    presence_penalty: presence,
    frequency_penalty: frequency,
    logit_bias: new Map(Object.entries(bias ?? {}).map(([id, value]) => [Number(id), value])),
  };
}
