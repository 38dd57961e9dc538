// The batching speedup: aggregate tokens/s of n concurrent streams ÷ tokens/s of one stream, both
// measured on the same server in the same run. Each stream is greedy with min_new_tokens =
// max_new_tokens, so it always generates exactly `tokens` tokens (<|endoftext|> is banned) and the
// work per stream is the same in both measurements.
import { sendGenerate } from "./client";

export interface StreamThroughput {
  streams: number;
  tokensPerSecond: number;
  /** Every measured round, for the report. */
  rounds: number[];
  errors: string[];
}

let unique = 0;

async function oneRound(baseUrl: string, streams: number, tokens: number, timeoutMs: number): Promise<{ tokensPerSecond: number; errors: string[] }> {
  const started = performance.now();
  const observations = await Promise.all(
    Array.from({ length: streams }, () =>
      sendGenerate(baseUrl, {
        // Distinct prompts: identical requests in flight would share one run.
        prompt: `Stream ${unique++} of the speed test: once upon a time`,
        max_new_tokens: tokens,
        min_new_tokens: tokens,
        stream: true,
      }, timeoutMs),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const errors = observations.flatMap((o) => (o.error ? [o.error] : []));
  const generated = observations.reduce((sum, o) => sum + (o.body?.usage.completion_tokens ?? 0), 0);
  return { tokensPerSecond: generated / seconds, errors };
}

/** The median of `rounds` rounds, after one unmeasured warm-up round. */
export async function measureStreams(baseUrl: string, streams: number, tokens: number, rounds: number, timeoutMs: number): Promise<StreamThroughput> {
  await oneRound(baseUrl, streams, tokens, timeoutMs);
  const results: number[] = [];
  const errors: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const round = await oneRound(baseUrl, streams, tokens, timeoutMs);
    results.push(round.tokensPerSecond);
    errors.push(...round.errors);
  }
  const sorted = [...results].sort((a, b) => a - b);
  return { streams, tokensPerSecond: sorted[Math.floor(sorted.length / 2)], rounds: results, errors };
}
