// What one benchmark run measures, shared by the Node side and the bench Worker (no Node imports).

export interface SpeedPlan {
  /** Prompt length for the prefill / time-to-first-token row. */
  prefillTokens: number;
  /** Decode speed is measured right after prefilling a prompt of each of these lengths. */
  contexts: number[];
  /** Decode steps timed per context (every step after the prefill). */
  decodeSteps: number;
  /** Interleaved repetitions of the whole speed plan (tools/bench/interleave.ts). */
  reps: number;
  /** Tokens generated per prompt-lookup measurement (tools/bench/lookup.ts). */
  lookupTokens: number;
  /** Tokens generated after load for the memory figures. */
  memoryTokens: number;
  /** Length of the long prompt repeated and extended for the prefix-reuse figures. */
  prefixTokens: number;
  /** Batching: this many concurrent requests against one, each generating batchTokens tokens. */
  batchRows: number;
  batchTokens: number;
  /** Isolate memory (tools/bench/isolate-phases.ts): rows × tokens generated at once, then a mix of
   * whole requests (tools/bench/mixed-requests.ts), so many in flight at a time. */
  isolateRows: number;
  isolateTokens: number;
  mixedRequests: number;
  mixedConcurrency: number;
}

export const FULL_PLAN: SpeedPlan = { prefillTokens: 128, contexts: [16, 128, 512], decodeSteps: 16, reps: 5, lookupTokens: 64, memoryTokens: 256, prefixTokens: 512, batchRows: 8, batchTokens: 32, isolateRows: 8, isolateTokens: 128, mixedRequests: 100, mixedConcurrency: 4 };
export const QUICK_PLAN: SpeedPlan = { prefillTokens: 32, contexts: [16, 64], decodeSteps: 3, reps: 2, lookupTokens: 16, memoryTokens: 16, prefixTokens: 48, batchRows: 4, batchTokens: 8, isolateRows: 4, isolateTokens: 16, mixedRequests: 20, mixedConcurrency: 4 };

/** Speed figures of one engine on one model; times in milliseconds. */
export interface EngineResult {
  coldStartMs: number;
  prefillMs: number;
  ttftMs: number;
  /** Median ms per decode step, keyed by context length. */
  decodeMs: Record<number, number>;
  /** Each repetition's figure (TTFT; median decode step per context), in repetition order. */
  runs?: { ttftMs: number[]; decodeMs: Record<number, number[]> };
}

/** A fixed, prompt-like token sequence (no special tokens) so every engine sees the same input. */
export function benchPrompt(length: number, vocab: number): number[] {
  const ids: number[] = [];
  let state = 12345;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    ids.push(state % Math.min(vocab - 1, 50000));
  }
  return ids;
}
