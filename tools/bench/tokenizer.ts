// The tokenizer table of `npm run bench`: 128 KiB single-piece prompts (tokenizer-measure.ts) in
// Node and in workerd (tokenizer-worker.ts through wrangler, same runtime settings as the bench Worker).
import { resolve } from "node:path";
import { unstable_dev } from "wrangler";
import { GPT2_WINDOW, measureTokenizer, type TokenizerResult } from "./tokenizer-measure.js";

/** The target for one such prompt. */
export const TARGET_MS = 50;

export interface TokenizerBench {
  runs: number;
  node: TokenizerResult[];
  workerd: TokenizerResult[];
}

export async function benchTokenizer(runs: number): Promise<TokenizerBench> {
  const node = measureTokenizer(runs, () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  });
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false"; // no network here: skip fetching Request.cf
  const worker = await unstable_dev(resolve(import.meta.dirname, "tokenizer-worker.ts"), {
    config: resolve(import.meta.dirname, "wrangler.toml"),
    logLevel: "warn",
    experimental: { disableExperimentalWarning: true, watch: false, disableDevRegistry: true },
  });
  try {
    const response = await worker.fetch("http://bench/", { method: "POST", body: JSON.stringify({ runs }) });
    if (!response.ok) throw new Error(`tokenizer bench worker: HTTP ${response.status}: ${(await response.text()).slice(0, 500)}`);
    return { runs, node, workerd: (await response.json()) as TokenizerResult[] };
  } finally {
    await worker.stop();
  }
}

export function tokenizerTable({ runs, node, workerd }: TokenizerBench): string[] {
  const ms = (v: number) => v.toFixed(1);
  return [
    `| 128 KiB single-piece prompt | bytes | tokens | full encode, Node: wall / CPU ms (median of ${runs}) | full encode, workerd: wall ms | as a request (stops past GPT-2's ${GPT2_WINDOW - 1} tokens), Node / workerd ms | target ≤ ${TARGET_MS} ms (Node CPU) |`,
    "|---|---:|---:|---:|---:|---:|---|",
    ...node.map((r, row) =>
      `| ${r.label} | ${r.bytes} | ${r.tokens} | ${ms(r.fullMs)} / ${ms(r.fullCpuMs)} | ${ms(workerd[row].fullMs)} | ${ms(r.requestMs)} / ${ms(workerd[row].requestMs)} | ${r.fullCpuMs <= TARGET_MS ? "met" : "missed"} |`),
  ];
}

/** The section BENCHMARKS.md gets. */
export function tokenizerMarkdown(bench: TokenizerBench): string {
  return [
    "## Tokenizer",
    "",
    "Our BPE merge is O(n log n) per pre-tokenized piece (gpt-tokenizer's took ~12 s on 128 KB of \"a\"). " +
      "Each row is one piece as large as the default MAX_BODY_BYTES allows. \"Full encode\" merges it to the end; " +
      "a request stops tokenizing once the prompt cannot fit the context window (such a piece cannot fit even at " +
      "128 bytes per token, so it is not merged at all). Wall times include contention on shared cores; workerd " +
      "has no CPU clock.",
    "",
    ...tokenizerTable(bench),
    "",
  ].join("\n");
}
