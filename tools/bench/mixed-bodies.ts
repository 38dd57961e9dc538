// The bodies of the "mixed requests" isolate-memory phase (no Worker or Node imports: the bench
// Worker sends them through the app in-process, mixed-requests.ts; the sharded bench over HTTP to
// a real front, sharded-isolates.ts). Greedy and seeded sampled generations of varied lengths,
// streamed and not, several sequences, stop strings, repeated bodies (response-cache hits) and
// invalid bodies (400s): what a serving isolate keeps after real traffic. The same seed gives the
// same mix, so runs compare.
import { createRng } from "../../src/sampling/rng";

const WORDS = [" the", " a", " river", " of", " light", " and", " 42", ",", ".", " é", " 東京", " 🙂", "\n"];

/** The i-th body of the mix (a function of the seed and i only). */
function mixedBody(random: () => number, i: number): string {
  const int = (below: number) => Math.floor(random() * below);
  const prompt = `${i}` + Array.from({ length: 1 + int(40) }, () => WORDS[int(WORDS.length)]).join("");
  const kind = i % 10;
  if (kind === 9) return `{"prompt": ${JSON.stringify(prompt)}, "max_new_tokens": -${1 + int(5)}}`; // a 400
  if (kind === 8) return JSON.stringify({ prompt: "repeated request", max_new_tokens: 8 }); // cache hits
  const body: Record<string, unknown> = { prompt, max_new_tokens: 1 + int(24) };
  if (kind % 2 === 1) Object.assign(body, { do_sample: true, seed: int(1000), temperature: 0.7 + random(), top_k: 40, top_p: 0.9 });
  if (kind === 3) body.num_return_sequences = 2;
  if (kind === 5) body.stop = ["."];
  if (kind === 6 || kind === 7) body.stream = true;
  return JSON.stringify(body);
}

/** The first `count` bodies of the mix. */
export function mixedBodies(count: number): string[] {
  const random = createRng(20261129);
  return Array.from({ length: count }, (_, i) => mixedBody(random, i));
}

/** Sends `bodies`, `concurrency` at a time, through `send` (which reads each response to its end); statuses tallied. */
export async function sendMixed(bodies: string[], concurrency: number, send: (body: string) => Promise<number>): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  const client = async () => {
    while (next < bodies.length) {
      const status = await send(bodies[next++]);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return statuses;
}
