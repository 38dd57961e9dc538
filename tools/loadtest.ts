// npm run loadtest [-- --model assets:dev/tiny-int8 --clients 32 --seconds 120 --requests 320 --seed 1]
//
// Starts `wrangler dev` on a free loopback port, runs every deterministic request of a generated
// workload alone, then all requests from N concurrent clients, and checks each answer against its
// own request: identical to the answer alone, text = decode(token_ids), usage adds up, stream
// deltas add up. Then measures the batching speedup (8 concurrent streams ÷ 1 stream). Prints a
// table with the issue's targets; exits 1 when one is not met. Not part of `npm test`.
//
// --soak N: instead, N rounds of hostile bodies (--soak-fuzz per route) mixed with --soak-generations
// generations, printing the isolate's memory and workerd's RSS after each; exits 1 unless they
// level off (tools/loadtest/soak.ts).
import { parseArgs } from "node:util";
import { measureStreams } from "./loadtest/speedup";
import { replayUnseeded, runAlone, runUnderLoad, type Failure } from "./loadtest/phases";
import { formatReport, targetsOf, type Report } from "./loadtest/report";
import { startServer, type RunningServer } from "./loadtest/server";
import { buildWorkload } from "./loadtest/workload";
import { levelsOff, runSoak } from "./loadtest/soak";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "assets:dev/tiny-int8" },
    clients: { type: "string", default: "32" },
    seconds: { type: "string", default: "120" },
    requests: { type: "string", default: "320" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    "max-new-tokens": { type: "string", default: "48" },
    "long-prompt-tokens": { type: "string", default: "300" },
    "timeout-ms": { type: "string", default: "60000" },
    "stream-tokens": { type: "string", default: "64" },
    "batched-streams": { type: "string", default: "8" },
    soak: { type: "string", default: "0" },
    "soak-fuzz": { type: "string", default: "200" },
    "soak-generations": { type: "string", default: "64" },
    help: { type: "boolean", default: false },
  },
});

if (args.help) {
  console.log("usage: npm run loadtest -- [--model assets:<dir>] [--clients 32] [--seconds 120] [--requests 320] [--seed N]\n" +
    "  [--max-new-tokens 48] [--long-prompt-tokens 300] [--timeout-ms 60000] [--stream-tokens 64] [--batched-streams 8]\n" +
    "  [--soak N [--soak-fuzz 200] [--soak-generations 64]]");
  process.exit(0);
}

function positiveInt(name: keyof typeof args): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer (got ${args[name]})`);
  return value;
}

async function main(): Promise<number> {
  const clients = positiveInt("clients");
  const seed = positiveInt("seed");
  const timeoutMs = positiveInt("timeout-ms");
  console.log(`load test: model ${args.model}, ${clients} clients, ≤ ${args.requests} requests, ≤ ${args.seconds} s, seed ${seed}`);
  console.log("starting wrangler dev…");
  const server: RunningServer = await startServer(args.model!);
  try {
    console.log(`serving ${server.health.model.name} on ${server.url} (its output: ${server.logPath})`);
    if (positiveInt("soak") > 0) {
      const rounds = await runSoak(server, {
        rounds: positiveInt("soak"),
        fuzzPerRoute: positiveInt("soak-fuzz"),
        generations: positiveInt("soak-generations"),
        clients,
        seed,
        maxNewTokens: positiveInt("max-new-tokens"),
        longPromptTokens: positiveInt("long-prompt-tokens"),
        timeoutMs,
      }, console.log);
      const verdict = levelsOff(rounds);
      console.log(`\n${verdict.text}\n  (seed ${seed})`);
      return verdict.isolate && verdict.rss ? 0 : 1;
    }
    const requests = buildWorkload({
      count: positiveInt("requests"),
      seed,
      maxNewTokens: positiveInt("max-new-tokens"),
      longPromptTokens: positiveInt("long-prompt-tokens"),
    });
    const failures: Failure[] = [];
    const phase = { baseUrl: server.url, timeoutMs, failures };

    console.log(`running ${requests.filter((r) => r.kind !== "unseeded").length} deterministic requests alone…`);
    const alone = await runAlone(requests, phase);
    console.log(`running ${requests.length} requests from ${clients} concurrent clients…`);
    const load = await runUnderLoad(requests, alone.expected, { ...phase, clients, seconds: positiveInt("seconds") });
    console.log("replaying unseeded sampled requests alone with their seeds…");
    const replay = await replayUnseeded(requests, load.observed, phase);

    const streamTokens = positiveInt("stream-tokens");
    const batchedStreams = positiveInt("batched-streams");
    console.log(`measuring 1 stream and ${batchedStreams} concurrent streams of ${streamTokens} tokens…`);
    const single = await measureStreams(server.url, 1, streamTokens, 3, timeoutMs);
    const batched = await measureStreams(server.url, batchedStreams, streamTokens, 3, timeoutMs);

    const report: Report = { model: `${server.health.model.name} (${args.model})`, clients, baseline: alone.stats, load: load.stats, replay, single, batched };
    printFailures(failures, [...single.errors, ...batched.errors]);
    console.log("\n" + formatReport(report));
    console.log(`\n  (seed ${seed}: rerun with --seed ${seed} for the same workload)`);
    return targetsOf(report).every((t) => t.met) ? 0 : 1;
  } finally {
    await server.stop();
  }
}

function printFailures(failures: Failure[], streamErrors: string[]): void {
  if (failures.length === 0 && streamErrors.length === 0) return;
  const kinds = new Map<string, number>();
  for (const problem of failures.flatMap((f) => f.problems.map((p) => `${f.phase}: ${kindOf(p)}`))) kinds.set(problem, (kinds.get(problem) ?? 0) + 1);
  console.log(`\n${failures.length + streamErrors.length} failed checks; problems by kind: ${[...kinds].map(([k, n]) => `${k} ×${n}`).join("; ")}`);
  console.log("first 10:");
  for (const failure of failures.slice(0, 10)) {
    const { id, kind, body } = failure.request;
    const shown = { ...body, prompt: body.prompt.length > 80 ? `${body.prompt.slice(0, 40)}…${body.prompt.slice(-30)}` : body.prompt };
    console.log(`- request ${id} (${kind}, ${failure.phase}) ${JSON.stringify(shown)}`);
    for (const problem of failure.problems.slice(0, 4)) console.log(`    ${problem}`);
  }
  for (const error of streamErrors.slice(0, 5)) console.log(`- speed-test stream: ${error}`);
}

/** A problem's kind, for the tally: its wording without the numbers and quoted text. */
function kindOf(problem: string): string {
  return problem.replace(/"(?:[^"\\]|\\.)*"/g, "…").replace(/\(.*?\)|(?<!HTTP )\d+/g, "N").replace(/…N|N…/g, "…").slice(0, 70);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
