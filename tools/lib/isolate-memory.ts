// The Worker isolate's memory as the platform counts it (JS heap + ArrayBuffer backing stores +
// WebAssembly memory, 128 MB per isolate), read from outside through the V8 inspector that
// `wrangler dev --inspector-port` (or unstable_dev's inspectorPort) exposes. workerd itself offers
// no figure inside the isolate (process.memoryUsage() returns zeros there).
//
// Runtime.getHeapUsage answers usedSize / totalSize (V8's JS heap) and backingStorageSize: the
// bytes of live ArrayBuffer backing stores, but NOT WebAssembly memory (checked in workerd: a new
// 50 MiB ArrayBuffer adds 50.0 MiB to it, a 40 MiB WebAssembly.Memory grown to 60 MiB adds 0, both
// allocated through evaluate()). So WebAssembly memories are found and
// summed inside the isolate: those that exist when we connect (Runtime.queryObjects), and every one
// WebAssembly.instantiate sees from then on (a wrapper installed through Runtime.evaluate; ORT
// creates its memory in JS and passes it as an import, once, on first model load). `npm run bench`
// cross-checks that figure against the bench Worker's own reading of ORT's memory.
// Needs a global WebSocket (Node ≥ 22; the npm scripts run Node 22).

export interface IsolateSample {
  /** JS heap in use (V8 used_heap_size). */
  heapUsed: number;
  /** JS heap V8 has reserved (total_heap_size, ≥ heapUsed). */
  heapTotal: number;
  /** ArrayBuffer backing stores (WebAssembly memory not included). */
  backingStores: number;
  /** Every WebAssembly.Memory's current size. */
  wasm: number;
  /** What counts against the isolate's limit: heapUsed + backingStores + wasm. */
  total: number;
}

export interface PhaseMemory {
  /** Largest total seen while the phase ran (sampled every intervalMs, plus one at its end). */
  peak: IsolateSample;
  /** After the phase, once a full GC has run: what the phase left behind. */
  after: IsolateSample;
  samples: number;
}

interface CdpReply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

export class IsolateMemory {
  private nextId = 1;
  private readonly pending = new Map<number, { done: (r: Record<string, unknown>) => void; fail: (e: Error) => void }>();

  /** The Worker's execution context (Runtime.evaluate finds no default one in workerd). */
  private contextId: number | null = null;

  /** Reconnections so far: wrangler's own inspector proxy may take an isolate's one connection. */
  private reconnects = 0;
  private closing = false;
  private socket!: WebSocket;

  private constructor(
    private readonly url: string,
    private readonly poke: () => Promise<unknown>,
    /** workerd's own inspector answers only while the isolate is entered: poke until it does. */
    private readonly pokeWhileWaiting = false,
  ) {}

  /** Opens the connection (again): workerd's inspector keeps one connection per isolate, and
   * wrangler's inspector proxy connects to one isolate of a multi-Worker dev as it (re)loads,
   * closing ours ("inspector connection closed" at random, mostly at start). */
  private async open(): Promise<void> {
    // The inspector proxy of wrangler / miniflare refuses an upgrade without an allowed Origin;
    // Node's WebSocket (undici) takes extra headers as a non-standard second argument.
    const init = { headers: { origin: "http://localhost" } } as unknown as string[];
    const socket = new WebSocket(this.url, init);
    await new Promise<void>((done, fail) => {
      socket.addEventListener("open", () => done(), { once: true });
      socket.addEventListener("error", () => fail(new Error(`cannot connect to ${this.url}`)), { once: true });
    });
    socket.addEventListener("message", (event) => {
      const reply = JSON.parse(String(event.data)) as CdpReply & { method?: string; params?: { context?: { id: number } } };
      if (reply.method === "Runtime.executionContextCreated") this.contextId = reply.params?.context?.id ?? null;
      if (reply.id === undefined) return; // an event, not an answer
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error) waiter?.fail(new Error(`inspector: ${reply.error.message}`));
      else waiter?.done(reply.result ?? {});
    });
    socket.addEventListener("close", () => {
      for (const waiter of this.pending.values()) waiter.fail(new InspectorClosed());
      this.pending.clear();
    });
    this.socket = socket;
    await this.send("Runtime.enable"); // announces the execution context
    // (wrangler's proxy announces it to its first client only: one connection per wrangler dev)
    await this.trackWasmMemories();
  }

  /**
   * Connects to the first (only) target the inspector on `port` lists. `poke` sends the Worker a
   * cheap request: workerd runs the inspector's GC task only when the isolate is next entered.
   */
  static async connect(port: number, poke: () => Promise<unknown>, host = "127.0.0.1"): Promise<IsolateMemory> {
    if (typeof WebSocket === "undefined") throw new Error("isolate-memory needs a global WebSocket (Node 22; run it through an npm script)");
    const targets = (await (await fetch(`http://${host}:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    if (targets.length === 0) throw new Error(`the inspector on port ${port} lists no isolate`);
    return IsolateMemory.connectTo(targets[0].webSocketDebuggerUrl, poke);
  }

  /**
   * Connects to one inspector target, e.g. one Worker of several in one workerd (wrangler's proxy
   * lists only the first; workerd's own inspector lists every isolate: workerd-inspector.ts).
   */
  static async connectTo(url: string, poke: () => Promise<unknown>, { pokeWhileWaiting = false } = {}): Promise<IsolateMemory> {
    if (typeof WebSocket === "undefined") throw new Error("isolate-memory needs a global WebSocket (Node 22; run it through an npm script)");
    const memory = new IsolateMemory(url, poke, pokeWhileWaiting);
    await memory.open();
    return memory;
  }

  /** `sendOnce`, connecting again when another client took the isolate's connection (a few times). */
  async send(method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    for (;;) {
      try {
        if (this.socket.readyState !== WebSocket.OPEN) throw new InspectorClosed();
        return await this.sendOnce(method, params, timeoutMs);
      } catch (error) {
        if (!(error instanceof InspectorClosed) || this.closing || this.reconnects >= MAX_RECONNECTS) throw error;
        this.reconnects++;
        await new Promise((r) => setTimeout(r, 200));
        await this.open();
      }
    }
  }

  private sendOnce(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        fail(new Error(`inspector: no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = <A>(then: (a: A) => void) => (a: A) => (clearTimeout(timer), then(a));
      this.pending.set(id, { done: settle(done), fail: settle(fail) });
      this.socket.send(JSON.stringify({ id, method, params }));
      if (this.pokeWhileWaiting) void this.pokeUntilAnswered(id);
    });
  }

  /** The poke under way, if any: one at a time. */
  private pokeInFlight: Promise<unknown> | null = null;

  private async pokeUntilAnswered(id: number): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
    while (this.pending.has(id)) {
      // A poke waits behind whatever the isolate runs (a long prefill step): starting another every
      // 200 ms piled up requests in the front and the shards, and a sharded 1,024-token context had
      // not finished after 10 minutes (an 800-token one: 40 s unwatched, 67 s watched one poke at a time).
      this.pokeInFlight ??= this.poke().catch(() => undefined).finally(() => (this.pokeInFlight = null));
      await Promise.race([this.pokeInFlight, new Promise((r) => setTimeout(r, 200))]);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async sample(): Promise<IsolateSample> {
    // Two messages answered at two instants, possibly either side of a long synchronous call.
    // WASM memory only grows, so reading it first never pairs a later (larger) WASM figure with
    // earlier (larger) ArrayBuffer figures: a sample never overstates, it can only lag.
    const wasm = await this.evaluate(WASM_SUM);
    const usage = await this.send("Runtime.getHeapUsage");
    const heapUsed = Number(usage.usedSize);
    const backingStores = Number(usage.backingStorageSize ?? NaN);
    if (!Number.isFinite(backingStores)) throw new Error("this V8's Runtime.getHeapUsage reports no backingStorageSize");
    return { heapUsed, heapTotal: Number(usage.totalSize), backingStores, wasm: Number(wasm), total: heapUsed + backingStores + Number(wasm) };
  }

  /** Registers the memories alive now and wraps WebAssembly.instantiate to register later ones. */
  private async trackWasmMemories(): Promise<void> {
    await this.evaluate(INSTALL_TRACKER);
    const prototype = await this.send("Runtime.evaluate", { expression: "WebAssembly.Memory.prototype", contextId: this.contextId });
    const prototypeObjectId = (prototype.result as { objectId: string }).objectId;
    const found = await this.send("Runtime.queryObjects", { prototypeObjectId });
    const objectId = (found.objects as { objectId: string }).objectId;
    await this.send("Runtime.callFunctionOn", { objectId, functionDeclaration: `function () { for (const m of this) globalThis[${TRACKER_KEY}].add(new WeakRef(m)); }` });
  }

  /** A full, synchronous GC in the isolate (what the platform would reclaim before failing). */
  async collectGarbage(): Promise<void> {
    let answered = false;
    const gc = this.send("HeapProfiler.collectGarbage").finally(() => (answered = true));
    while (!answered) {
      await this.poke();
      await Promise.race([gc, new Promise((done) => setTimeout(done, 100))]);
    }
    await gc;
  }

  async afterGc(): Promise<IsolateSample> {
    await this.collectGarbage();
    return this.sample();
  }

  /**
   * Runs `phase` while sampling every intervalMs (and once more at its end): the largest total
   * seen, then the figure after a full GC, i.e. what the phase left behind.
   */
  async measure<T>(phase: () => Promise<T>, intervalMs = 25): Promise<{ result: T; memory: PhaseMemory }> {
    let peak = await this.sample();
    let samples = 1;
    const keep = (now: IsolateSample) => {
      samples++;
      if (now.total > peak.total) peak = now;
    };
    let running = true;
    const sampler = (async () => {
      while (running) {
        const now = await this.sample().catch(() => null); // a sample lost to a busy isolate is skipped
        if (now) keep(now);
        await new Promise((done) => setTimeout(done, intervalMs));
      }
    })();
    let result: T;
    try {
      result = await phase();
    } finally {
      running = false;
      await sampler;
    }
    keep(await this.sample());
    return { result, memory: { peak, after: await this.afterGc(), samples } };
  }

  /** Evaluates an expression in the isolate's global scope (cross-checks only). */
  async evaluate(expression: string): Promise<unknown> {
    if (this.contextId === null) throw new Error("the inspector announced no execution context");
    const reply = await this.send("Runtime.evaluate", { expression, returnByValue: true, contextId: this.contextId });
    const details = reply.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
    if (details) throw new Error(`evaluate failed: ${details.exception?.description ?? details.text}`);
    return (reply.result as { value?: unknown }).value;
  }

  close(): void {
    this.closing = true;
    this.socket.close();
  }
}

class InspectorClosed extends Error {
  constructor() {
    super("inspector connection closed");
  }
}
/** More than this, and something keeps taking the connection: the run fails. */
const MAX_RECONNECTS = 10;

const TRACKER_KEY = `Symbol.for("isolate-memory.wasm")`;
const INSTALL_TRACKER = `(() => {
  if (globalThis[${TRACKER_KEY}]) return 0;
  const memories = globalThis[${TRACKER_KEY}] = new Set();
  const collect = (namespace) => {
    if (namespace && typeof namespace === "object") for (const v of Object.values(namespace)) if (v instanceof WebAssembly.Memory) memories.add(new WeakRef(v));
  };
  const instantiate = WebAssembly.instantiate.bind(WebAssembly);
  WebAssembly.instantiate = async (source, imports) => {
    const result = await instantiate(source, imports);
    for (const namespace of Object.values(imports ?? {})) collect(namespace);
    collect((result instanceof WebAssembly.Instance ? result : result.instance)?.exports);
    return result;
  };
  return 1;
})()`;
// Weak references: a memory the Worker drops must not be kept alive (or counted) by us. Two refs
// to one memory (seen twice) count once.
const WASM_SUM = `(() => {
  const seen = new Set();
  for (const ref of globalThis[${TRACKER_KEY}] ?? []) { const m = ref.deref(); if (m) seen.add(m); else globalThis[${TRACKER_KEY}].delete(ref); }
  let sum = 0;
  for (const m of seen) sum += m.buffer.byteLength;
  return sum;
})()`;

export const MiB = 2 ** 20;
export const mib = (bytes: number) => `${mibFigure(bytes)} MiB`;
/** MiB to one decimal, without the unit (table cells). */
export const mibFigure = (bytes: number) => (bytes / MiB).toFixed(1);
