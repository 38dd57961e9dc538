// Per-sequence stopping: end of text, stop strings (the stop text is not returned), token budget.
// Deadline and abort apply to the whole batch and are checked by the loop.

export type FinishReason = "stop" | "length" | "time" | "cancelled";

/**
 * Finds the first stop string in `text`, looking only where a match could involve the newest
 * characters (from `fresh` on), so each step costs O(new text × stops), not O(whole text).
 * Returns the cut index, or -1.
 */
export function findStop(text: string, fresh: number, stops: readonly string[]): number {
  let cut = -1;
  for (const stop of stops) {
    const from = Math.max(0, fresh - stop.length + 1);
    const at = text.indexOf(stop, from);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut;
}

/**
 * How many trailing characters of `text` must be held back from a stream because they could be
 * the start of a stop string (which is never returned): the longest suffix that is a proper
 * prefix of some stop string.
 */
export function stopHoldback(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(stop.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

export interface Budget {
  /** Epoch ms after which generation ends with "time"; null = no budget. */
  deadline: number | null;
  signal?: AbortSignal;
  now: () => number;
}

/** Why the whole batch must end now, or null to go on. */
export function batchInterrupt(budget: Budget): FinishReason | null {
  if (budget.signal?.aborted) return "cancelled";
  if (budget.deadline !== null && budget.now() >= budget.deadline) return "time";
  return null;
}
