// Tokenizer time for the worst legal prompts: one pre-tokenized piece as large as the default
// MAX_BODY_BYTES (128 KiB), where a BPE merge that rescans every pair took ~12 s. Runs in Node and,
// through tokenizer-worker.ts, in workerd (no Node imports here).
import { encode, encodeWithin } from "../../src/tokenizer/index.js";

const PIECE_BYTES = 128 * 1024;
export const GPT2_WINDOW = 1024;

export interface TokenizerResult {
  label: string;
  bytes: number;
  tokens: number;
  /** Median wall time of encoding the whole piece (every merge done). */
  fullMs: number;
  /** Median CPU time of the same, where the runtime offers a CPU clock (Node); else NaN. */
  fullCpuMs: number;
  /** Median wall time of what a request costs: encoding up to GPT-2's window, then rejecting. */
  requestMs: number;
}

function pieces(): [string, string][] {
  return [
    ["letters (\"a\")", "a".repeat(PIECE_BYTES)],
    ["letters (\"ab\")", "ab".repeat(PIECE_BYTES / 2)],
    ["digits (\"7\")", "7".repeat(PIECE_BYTES)],
    ["punctuation (\"!\")", "!".repeat(PIECE_BYTES)],
    ["CJK (\"中\", 3 bytes each)", "中".repeat(Math.floor(PIECE_BYTES / 3))],
  ];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** `cpuMs`: the process's CPU time so far, in ms (Node's process.cpuUsage), when there is one. */
export function measureTokenizer(runs: number, cpuMs?: () => number): TokenizerResult[] {
  encode("warm up: builds the vocabulary tables once, as the first request of an isolate does");
  const all = pieces();
  const wall: number[][] = all.map(() => []);
  const cpu: number[][] = all.map(() => []);
  const request: number[][] = all.map(() => []);
  // Interleaved rounds, so a burst of load from elsewhere hits every row alike.
  for (let run = 0; run < runs; run++) {
    all.forEach(([, text], row) => {
      const cpuBefore = cpuMs?.() ?? NaN;
      const started = performance.now();
      encode(text);
      wall[row].push(performance.now() - started);
      cpu[row].push((cpuMs?.() ?? NaN) - cpuBefore);
      const requestStarted = performance.now();
      encodeWithin(text, GPT2_WINDOW - 1);
      request[row].push(performance.now() - requestStarted);
    });
  }
  return all.map(([label, text], row) => ({
    label,
    bytes: new TextEncoder().encode(text).length,
    tokens: encode(text).length,
    fullMs: median(wall[row]),
    fullCpuMs: median(cpu[row]),
    requestMs: median(request[row]),
  }));
}
