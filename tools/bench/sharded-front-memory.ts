// The front isolate of a sharded model, measured as the platform counts it (JS heap + ArrayBuffers
// + WASM, tools/lib/isolate-memory.ts) through the phases issue 14 names: load (the LM-head kernel
// and the manifest; no onnxruntime heap in the front), 8 concurrent 128-token generations, and one
// 1,024-position context. The shards' isolates are measured by `npm run bench:shards`; the front is
// reached through workerd's own inspector of the sharded `wrangler dev` (its script edge-gpt2).
import { inspectorUrlOf, workerInspectorUrls } from "../lib/workerd-inspector.js";
import { IsolateMemory, mibFigure as mib, type PhaseMemory } from "../lib/isolate-memory.js";

export interface FrontMemory {
  load: PhaseMemory;
  concurrent: PhaseMemory;
  /** A prompt filling the window but for `newTokens`, then `newTokens` generated. */
  context: PhaseMemory;
  contextPositions: number;
}

type Generate = (body: Record<string, unknown>) => Promise<unknown>;

/** The front's isolate, connected before anything loads; `load` is measured now, the rest by `workloads`. */
export class FrontIsolate {
  private constructor(private readonly isolate: IsolateMemory) {}

  /** The front of the `wrangler dev` whose process is `devPid`, through workerd's own inspector
   * (wrangler's proxy attaches to whichever Worker reloaded last, not necessarily the front). */
  static async connect(origin: string, devPid: number): Promise<FrontIsolate> {
    const url = inspectorUrlOf(await workerInspectorUrls(devPid), "edge-gpt2");
    // The poke is a route that does not exist: it enters the isolate without loading the model
    // (GET /health would load it, and the load phase would find it loaded already).
    const poke = () => fetch(`${origin}/__bench/no-such-route`).then((r) => r.arrayBuffer());
    return new FrontIsolate(await IsolateMemory.connectTo(url, poke, { pokeWhileWaiting: true }));
  }

  async load(run: () => Promise<unknown>): Promise<PhaseMemory> {
    return (await this.isolate.measure(run)).memory;
  }

  /** 8 concurrent 128-token generations, then one context of `window` positions; closes the connection. */
  async workloads(load: PhaseMemory, generate: Generate, window: number): Promise<FrontMemory> {
    try {
      const rows = () => Array.from({ length: 8 }, (_, i) => generate({ prompt: `Row ${i}: the harbour at dawn`, max_new_tokens: 128 }));
      const concurrent = (await this.isolate.measure(() => Promise.all(rows()))).memory;
      // "The" then " the" repeated: one GPT-2 token each, so the prompt is exactly window - 128 tokens.
      const newTokens = 128;
      const prompt = `The${" the".repeat(window - newTokens - 1)}`;
      const context = (await this.isolate.measure(() => generate({ prompt, max_new_tokens: newTokens }))).memory;
      return { load, concurrent, context, contextPositions: window };
    } finally {
      this.isolate.close();
    }
  }
}

export function frontMemoryLines(front: FrontMemory): string[] {
  const cell = (m: PhaseMemory) =>
    `${mib(m.peak.total)} (JS ${mib(m.peak.heapUsed)} / buffers ${mib(m.peak.backingStores)} / WASM ${mib(m.peak.wasm)}); after GC ${mib(m.after.total)}`;
  return [
    "Front isolate of the sharded model (JS heap + ArrayBuffers + WASM, MiB; peak, then after a full GC):",
    "| phase | front isolate |",
    "|---|---|",
    `| load (LM-head kernel, manifest, warm-up through the shards) | ${cell(front.load)} |`,
    `| 8 × 128 tokens at once | ${cell(front.concurrent)} |`,
    `| one ${front.contextPositions}-position context | ${cell(front.context)} |`,
  ];
}
