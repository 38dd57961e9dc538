// OpenAI's sampling adjustments, as pure processors over one sequence's logits row (in place):
// presence/frequency penalties and logit_bias. OpenAI defines the penalties on the logits as
//   logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty
// where count[j] is how often token j was generated so far (the prompt does not count).
// 0 disables each penalty; an empty bias disables logit_bias.

import { checkTokenId } from "./processors";

export interface PenaltySettings {
  /** In [-2, 2]; 0 disables it. Positive values push away from any token already generated. */
  presence_penalty: number;
  /** In [-2, 2]; 0 disables it. Positive values push away proportionally to a token's count. */
  frequency_penalty: number;
  /** Token id → value added to its logit (OpenAI: -100 bans, 100 forces). Empty disables it. */
  logit_bias: ReadonlyMap<number, number>;
}

export const NO_PENALTIES: Readonly<PenaltySettings> = Object.freeze({
  presence_penalty: 0,
  frequency_penalty: 0,
  logit_bias: new Map<number, number>(),
});

/** logit[j] -= count[j] * frequency + (count[j] > 0) * presence, for every generated token j. */
export function applyPresenceFrequencyPenalty(
  logits: Float32Array,
  counts: ReadonlyMap<number, number>,
  presence: number,
  frequency: number,
): void {
  if (presence === 0 && frequency === 0) return;
  for (const [id, count] of counts) {
    checkTokenId(id, logits.length, "generated token");
    if (count > 0) logits[id] -= count * frequency + presence;
  }
}

/** logit[j] += bias[j]. */
export function applyLogitBias(logits: Float32Array, bias: ReadonlyMap<number, number>): void {
  for (const [id, value] of bias) {
    checkTokenId(id, logits.length, "logit_bias token");
    logits[id] += value;
  }
}

export interface PenaltyProcessor {
  /** Adjusts the row in place for the tokens generated so far. */
  apply(logits: Float32Array): void;
  /** Records a generated token. */
  accept(tokenId: number): void;
}

/** Per-sequence state (the generated-token counts), or null when every setting is disabled. */
export function createPenaltyProcessor(settings: PenaltySettings): PenaltyProcessor | null {
  const { presence_penalty: presence, frequency_penalty: frequency, logit_bias: bias } = settings;
  const penalise = presence !== 0 || frequency !== 0;
  if (!penalise && bias.size === 0) return null;
  const counts = new Map<number, number>();
  return {
    apply(logits) {
      applyLogitBias(logits, bias);
      applyPresenceFrequencyPenalty(logits, counts, presence, frequency);
    },
    accept(tokenId) {
      if (penalise) counts.set(tokenId, (counts.get(tokenId) ?? 0) + 1);
    },
  };
}
