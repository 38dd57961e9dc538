// A shard's state machine (issue 14), independent of Durable Objects: it holds every row's
// keys/values of its blocks and answers ShardApi exactly as src/engine/shard-protocol.ts says.
// Per step: rows to forget go first; a row whose `past` the shard does not hold makes the whole
// step fail with ShardStateLost naming every such row (nothing is computed or changed); otherwise
// the batch's past is taken as it is when the rows are the last step's, in the same order, each
// where it ended (a decode step), or assembled from the rows (rows.ts) when the batch changed.
// Steps and releases run one at a time (one onnxruntime session; Durable Object RPC calls interleave
// at every await). Before a step computes anything, the isolate's ledger (memory.ts) admits what the
// instance will hold after it, or the step fails with ShardOverloaded, nothing changed.
import type { KvCache } from "../engine/forward";
import { appendRightPadded, detachArray, kvBytes } from "../engine/kv";
import { kvBytesLeft } from "../engine/kv-budget";
import { ShardStateLost, type ShardApi, type ShardRow, type ShardStatus, type ShardStepRequest, type ShardStepResult } from "../engine/shard-protocol";
import type { ShardInfo } from "../model/manifest";
import type { ShardForward } from "./graph";
import { isolateStatus, KvAccount } from "./memory";
import { assembleBatch, discard, splitRows, truncateRow, type RowKv, type Shape } from "./rows";
import { checkStep } from "./validate";

export interface ShardCoreOptions {
  shard: ShardInfo;
  heads: number;
  width: number;
  /** The model's context window (positions beyond it have no position embedding). */
  positions: number;
  /** WebAssembly memory now (onnxruntime's heap), for status(); 0 where unknown. */
  wasmBytes?: () => number;
  loadMs?: number;
  /** The Durable Object's id: a new core under the same one replaces the last in the isolate's ledger. */
  instance?: string;
  /** The isolate's memory (ISOLATE_MEMORY_BYTES; 0 or absent: no byte limit), the JS reserve, and the
   * WebAssembly memory the graph took when it loaded. */
  memory?: { isolateBytes: number; jsReserveBytes: number; modelBytes: number };
}

interface Batch {
  /** null: a row released since the step (its keys/values wait there until the batch changes). */
  ids: (string | null)[];
  /** Each row's positions held (its data; the rest of the batch's length is padding). */
  lengths: number[];
  kv: KvCache | null;
}

export class ShardCore implements ShardApi {
  private batch: Batch | null = null;
  /** Rows held outside the running batch. */
  private readonly detached = new Map<string, RowKv>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly shape: Shape;
  private readonly account: KvAccount;
  /** Steps that reused the last step's batch, and steps that assembled one (tests, status logs). */
  readonly counts = { reused: 0, assembled: 0 };

  constructor(private readonly forward: ShardForward, private readonly options: ShardCoreOptions) {
    const [from, to] = options.shard.layers;
    this.shape = { heads: options.heads, headDim: options.width / options.heads, tensors: 2 * (to - from) };
    const memory = options.memory;
    const budget = memory && memory.isolateBytes > 0 ? kvBytesLeft(memory.isolateBytes, memory.modelBytes, memory.jsReserveBytes) : null;
    this.account = new KvAccount(options.instance ?? crypto.randomUUID(), options.width, to - from, budget, () => void this.release([...this.held().keys()]));
  }

  step(request: ShardStepRequest): Promise<ShardStepResult> {
    return this.exclusive(() => this.run(request));
  }

  release(ids: string[]): Promise<void> {
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) return Promise.reject(new Error("release: ids must be a list of row ids"));
    return this.exclusive(async () => this.forget(ids));
  }

  async status(): Promise<ShardStatus> {
    const held = [...this.held().values()];
    return {
      index: this.options.shard.index,
      layers: [...this.options.shard.layers],
      rows: held.length,
      positions: held.reduce((sum, n) => sum + n, 0),
      wasmBytes: this.options.wasmBytes?.() ?? 0,
      kvBytes: this.kvBytes(),
      loadMs: this.options.loadMs ?? 0,
      isolate: isolateStatus(this.account.budgetBytes),
    };
  }

  /** Rows this instance holds now (its batch's and its own). */
  get rowsHeld(): number {
    return this.held().size;
  }

  /** Every row held, and its positions. */
  private held(): Map<string, number> {
    const held = new Map([...this.detached].map(([id, kv]) => [id, kv.length]));
    this.batch?.ids.forEach((id, i) => id !== null && held.set(id, this.batch!.lengths[i]));
    return held;
  }

  private kvBytes(): number {
    return [...this.detached.values()].reduce((sum, kv) => sum + kvBytes(kv), 0) + (this.batch?.kv ? kvBytes(this.batch.kv) : 0);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined); // a failed step must not block the next one
    return result;
  }

  private async run(request: ShardStepRequest): Promise<ShardStepResult> {
    checkStep(request, this.options);
    this.forget(request.release);
    const { rows, seq } = request;
    const lost = rows.filter((row) => !this.holds(row.copyOf ?? row.id, row.past)).map((row) => row.id);
    if (lost.length > 0) throw new ShardStateLost(lost, `shard ${this.options.shard.index}`);
    const others = this.held();
    for (const row of rows) others.delete(row.id);
    this.account.admit(rows, seq, others);

    const last = this.batch;
    const reuse = last?.kv && last.ids.length === rows.length && rows.every((row, i) => row.id === last.ids[i] && !row.copyOf && row.past === last.lengths[i]);
    const batch = reuse ? last : this.assemble(rows);
    this.counts[reuse ? "reused" : "assembled"]++;

    // Right-padded: each row's data, then padding up to the batch's length, then the new positions.
    const kvLength = batch.kv?.length ?? 0;
    const mask: number[] = [];
    for (const length of batch.lengths) {
      for (let i = 0; i < kvLength; i++) mask.push(i < length ? 1 : 0);
      for (let i = 0; i < seq; i++) mask.push(1);
    }
    const out = await this.forward({ batch: rows.length, seq, hidden: request.hidden, attentionMask: mask, positionIds: request.positionIds, past: batch.kv });
    const before = batch.kv;
    batch.kv = before
      ? appendRightPadded(before, out.kv.tensors, batch.lengths, seq, true, 0, detachArray) // an outgrown cache freed array by array
      : { batch: rows.length, heads: this.shape.heads, length: seq, tensors: out.kv.tensors };
    discard(before ? out.kv : null); // the step's new positions, now copied into the cache
    batch.lengths = batch.lengths.map((length) => length + seq);
    this.account.settle(this.held(), this.kvBytes());
    if (!request.lastOnly || seq === 1) return { hidden: out.hidden, positions: seq };
    const width = this.options.width;
    const hidden = new Float32Array(rows.length * width);
    for (let r = 0; r < rows.length; r++) hidden.set(out.hidden.subarray(((r + 1) * seq - 1) * width, (r + 1) * seq * width), r * width);
    return { hidden, positions: 1 };
  }

  /** Whether the shard holds at least `past` positions of row `id` (0 needs nothing). */
  private holds(id: string, past: number): boolean {
    if (past === 0) return true;
    const i = this.batch?.ids.indexOf(id) ?? -1;
    const length = i >= 0 ? this.batch!.lengths[i] : this.detached.get(id)?.length;
    return length !== undefined && length >= past;
  }

  /**
   * A new batch for `rows`. The last batch goes back into rows of their own first, then the step's
   * rows are stacked, each step one tensor at a time so that no row is ever held twice whole
   * (rows.ts); a row on its own that this step does not take (a copyOf source) stays as it is.
   */
  private assemble(rows: ShardRow[]): Batch {
    const last = this.batch;
    this.batch = null;
    if (last?.kv) {
      const live = last.ids.flatMap((id, index) => (id === null ? [] : [{ id, index, length: last.lengths[index] }]));
      splitRows(last.kv, live, this.shape).forEach((kv, k) => this.detached.set(live[k].id, kv));
    }
    const sources = rows.map((row) => (row.past === 0 ? null : truncateRow(this.detached.get(row.copyOf ?? row.id)!, row.past, this.shape)));
    const taken = rows.flatMap((row) => this.detached.get(row.id) ?? []);
    for (const row of rows) this.detached.delete(row.id);
    const held = new Set([...this.detached.values()].flatMap((kv) => kv.tensors));
    const kv = rows.some((row) => row.past > 0) ? assembleBatch(sources, this.shape, (t) => !held.has(t)) : null;
    for (const kv of taken) discard(kv, [...held]); // what the step replaced or cut short (re-prefill, retry)
    this.batch = { ids: rows.map((row) => row.id), lengths: rows.map((row) => row.past), kv };
    return this.batch;
  }

  private forget(ids: readonly string[]): void {
    for (const id of ids) {
      discard(this.detached.get(id));
      this.detached.delete(id);
      const i = this.batch?.ids.indexOf(id) ?? -1;
      if (i >= 0) this.batch!.ids[i] = null; // no step will match this batch again: the next assembles
    }
    if (this.batch?.ids.every((id) => id === null)) {
      discard(this.batch.kv); // nothing left in it to keep
      this.batch = null;
    }
    this.account.settle(this.held(), this.kvBytes());
  }
}
