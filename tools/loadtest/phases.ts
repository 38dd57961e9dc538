// The three request phases of a load test: deterministic requests alone (the expected answers),
// everything at once from N clients (checked against those answers and against itself), and the
// unseeded sampled requests replayed alone with the seed the server chose.
import { sendGenerate, type GenerateResponseBody, type Observation } from "./client";
import { checkResponse, compareToExpected } from "./check";
import type { PhaseStats } from "./report";
import { isDeterministic, type LoadRequest } from "./workload";

export interface Failure {
  request: LoadRequest;
  phase: "alone" | "load" | "replay";
  problems: string[];
}

export interface PhaseOptions {
  baseUrl: string;
  timeoutMs: number;
  failures: Failure[];
}

/** Each deterministic request alone, one after another: the answers the load phase must reproduce. */
export async function runAlone(requests: LoadRequest[], options: PhaseOptions) {
  const expected = new Map<number, GenerateResponseBody>();
  let sent = 0;
  let errors = 0;
  let problems = 0;
  for (const request of requests.filter(isDeterministic)) {
    sent++;
    const observation = await sendGenerate(options.baseUrl, request.body, options.timeoutMs);
    if (observation.error) {
      errors++;
      options.failures.push({ request, phase: "alone", problems: [observation.error] });
      continue;
    }
    const found = checkResponse(request.body, observation);
    if (found.length > 0) {
      problems++;
      options.failures.push({ request, phase: "alone", problems: found });
    }
    expected.set(request.id, observation.body!);
  }
  return { expected, stats: { sent, errors, problems } };
}

/** `clients` concurrent clients take the next request until all are sent or `seconds` ran out. */
export async function runUnderLoad(
  requests: LoadRequest[],
  expected: Map<number, GenerateResponseBody>,
  options: PhaseOptions & { clients: number; seconds: number; onProgress?: (done: number) => void },
): Promise<{ stats: PhaseStats; observed: Map<number, Observation> }> {
  const stats: PhaseStats = { requests: 0, ok: 0, errors: 0, mismatches: 0, mismatchesByKind: { greedy: 0, seeded: 0, unseeded: 0 }, latencies: [], ttfts: [], completionTokens: 0, wallSeconds: 0 };
  const observed = new Map<number, Observation>();
  const started = performance.now();
  const stopAt = started + options.seconds * 1000;
  let next = 0;

  const client = async () => {
    while (next < requests.length && performance.now() < stopAt) {
      const request = requests[next++];
      stats.requests++;
      const observation = await sendGenerate(options.baseUrl, request.body, options.timeoutMs);
      observed.set(request.id, observation);
      stats.latencies.push(observation.latencyMs);
      if (observation.ttftMs !== undefined) stats.ttfts.push(observation.ttftMs);
      if (observation.error) {
        stats.errors++;
        options.failures.push({ request, phase: "load", problems: [observation.error] });
        continue;
      }
      stats.ok++;
      stats.completionTokens += observation.body!.usage?.completion_tokens ?? 0;
      const want = expected.get(request.id);
      const problems = [...checkResponse(request.body, observation), ...(want ? compareToExpected(want, observation.body!) : [])];
      if (problems.length > 0) {
        stats.mismatches++;
        stats.mismatchesByKind[request.kind]++;
        options.failures.push({ request, phase: "load", problems });
      }
      options.onProgress?.(stats.requests);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  stats.wallSeconds = (performance.now() - started) / 1000;
  return { stats, observed };
}

/**
 * An unseeded sampled request answered with the seed it drew: the same request with that seed,
 * alone, must give the same text (another request's tokens or RNG state would show up here).
 */
export async function replayUnseeded(requests: LoadRequest[], observed: Map<number, Observation>, options: PhaseOptions) {
  let sent = 0;
  let errors = 0;
  let mismatches = 0;
  for (const request of requests) {
    const underLoad = observed.get(request.id);
    if (request.kind !== "unseeded" || !underLoad?.body || underLoad.error || !Number.isInteger(underLoad.body.seed)) continue;
    sent++;
    const body = { ...request.body, seed: underLoad.body.seed, stream: false };
    const observation = await sendGenerate(options.baseUrl, body, options.timeoutMs);
    if (observation.error) {
      errors++;
      options.failures.push({ request, phase: "replay", problems: [observation.error] });
      continue;
    }
    const problems = compareToExpected(observation.body!, underLoad.body);
    if (problems.length > 0) {
      mismatches++;
      options.failures.push({ request, phase: "replay", problems: [`replayed alone with seed ${body.seed}:`, ...problems] });
    }
  }
  return { sent, errors, mismatches };
}
