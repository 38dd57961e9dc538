// The forward pass of a model whose transformer blocks live in shards (issue 14): the front embeds
// the step's tokens with its LM-head kernel, sends the hidden states through the shards in order
// (each adds its blocks and keeps their keys/values under the rows' names), and turns the last
// shard's output into logits with the same kernel. The scheduler sees an ordinary Forward whose
// cache names rows instead of holding tensors (KvCache.rows).
//
// Shards can lose rows: a Durable Object is evicted or restarted, a call fails or never answers.
// Then every row of the step is released on every shard and rebuilt from the tokens it was fed
// (ShardRows), and the step is tried again — the same numbers as before, only later. After a
// bounded number of attempts the step fails with ShardUnavailableError (a 503, never a hang).
// A shard can also refuse a step for memory (ShardOverloaded: its isolate is shared with other
// fronts' instances): nothing was lost, so nothing is rebuilt; the step fails with
// ForwardOverloadedError and the scheduler waits for room, as for a full batch.
import { ForwardOverloadedError, type Forward, type ForwardInput, type ForwardOutput } from "./forward";
import type { TiedEmbedding } from "./lm-head/index";
import { isShardOverloaded, type ShardApi, type ShardRow, type ShardStatus, type ShardStepRequest } from "./shard-protocol";
import { ShardRows, type PlannedRow } from "./shard-rows";

/**
 * A stub for shard `index`, asked for on every call: a Durable Object stub is an I/O object of the
 * request that made it (workerd refuses it in another request), and the batch runs in whichever
 * request drives it; a fresh stub also never carries a failed call's broken connection.
 */
export type ShardConnector = (index: number) => ShardApi;

export interface ShardedOptions {
  count: number;
  connect: ShardConnector;
  head: Pick<TiedEmbedding, "embed" | "logits" | "hidden" | "vocab">;
  /** Tries per step (the first included) before the request fails. Default 4. */
  attempts?: number;
  /** A shard call that takes longer counts as failed. Default 60 s (a long prefill on a cold shard). */
  callTimeoutMs?: number;
  /** Wait before the second try, doubling per try. Default 50 ms. */
  backoffMs?: number;
  /**
   * Most positions per row in one step: a longer prompt is sent in steps of this many. A shard's
   * memory plan counts the scratch of a prefill step this long (tools/convert/shard-plan.ts,
   * --shard-prefill); a row's numbers do not depend on how its prompt is split. Default 128.
   */
  maxStepPositions?: number;
}

/** The shards stayed unreachable (or kept losing rows) through every try: retry later. */
export class ShardUnavailableError extends Error {
  override name = "ShardUnavailableError";
  constructor(message: string, readonly retryAfterSeconds = 5) {
    super(message);
  }
}

export class ShardedModel {
  readonly rows: ShardRows;
  /** Steps that had to rebuild rows after a shard failed (for tests and /v1/info). */
  recoveries = 0;
  private readonly attempts: number;
  private readonly callTimeoutMs: number;
  private readonly backoffMs: number;
  private readonly maxStepPositions: number;
  /** Logits of the last step: views of it are handed out, overwritten by the next step. */
  private logitsOut = new Float32Array(0);

  constructor(private readonly options: ShardedOptions) {
    // Row names unique beyond this model's life: shard instances may outlive it (a reload, a restart).
    this.rows = new ShardRows(`${crypto.randomUUID().slice(0, 8)}-`);
    this.attempts = options.attempts ?? 4;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.backoffMs = options.backoffMs ?? 50;
    this.maxStepPositions = options.maxStepPositions ?? 128;
  }

  readonly forward: Forward = (input) => this.step(input);

  /** The scheduler's rowsLeft: forgotten with the next step, or now when nothing else runs. */
  readonly rowsLeft = (ids: string[]): void => {
    this.rows.drop(ids);
    if (this.rows.size.live === 0) void this.flush().catch(() => undefined); // the next step carries them otherwise
  };

  /** Every shard forgets the rows that left. */
  async flush(): Promise<void> {
    await this.release(this.rows.releasable());
  }

  private async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await Promise.all(this.shards().map((i) => this.call(i, (shard) => shard.release(ids))));
    this.rows.released(ids);
  }

  status(): Promise<ShardStatus[]> {
    return Promise.all(this.shards().map((i) => this.call(i, (shard) => shard.status())));
  }

  private shards(): number[] {
    return Array.from({ length: this.options.count }, (_, i) => i);
  }

  private async step(input: ForwardInput): Promise<ForwardOutput> {
    const { seq, inputIds, positionIds } = input;
    let planned: PlannedRow[];
    if (input.past) {
      if (!input.past.rows) throw new Error("a sharded model's cache names its rows (KvCache.rows)");
      planned = this.rows.plan(input.past.rows, positionIds, seq);
    } else {
      if (positionIds.some((p, i) => p !== i % seq)) throw new Error("a sharded model prefills from position 0 (no prefix cache)");
      planned = this.rows.fresh(input.batch, input.reserve);
    }
    const ids = new Set(planned.map((row) => row.id));
    let lastError: unknown = null;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1));
      try {
        let rows: readonly PlannedRow[] = planned;
        // A prefill carries no releases: a row that left may be the source of a fork not made yet.
        let release = input.past ? this.rows.releasable(planned) : [];
        if (attempt > 0) {
          this.recoveries++;
          // Whatever each shard holds of these rows now, they are rebuilt from their tokens alone.
          release = [...new Set([...this.rows.releasable(), ...ids])];
          release = await this.refill(planned, release);
          rows = planned.map(({ id, history, reach }) => ({ id, past: history.length, history, reach }));
        }
        const hidden = await this.chunked(rows, seq, inputIds, release);
        this.rows.released(release.filter((id) => !ids.has(id)));
        this.rows.commit(rows, inputIds, seq);
        // One reused array, as the unsharded head does (TokenHead.lastLogits): a fresh 200 KB per
        // row and step was measured as tens of MiB of ArrayBuffers waiting for a GC in the front.
        const vocab = this.options.head.vocab;
        if (this.logitsOut.length < rows.length * vocab) this.logitsOut = new Float32Array(rows.length * vocab);
        const all = this.options.head.logits(hidden, this.logitsOut.subarray(0, rows.length * vocab));
        return {
          logits: rows.map((_, r) => all.subarray(r * vocab, (r + 1) * vocab)),
          kv: { positions: seq, tensors: [], rows: rows.map(({ id }) => ({ id })) },
        };
      } catch (error) {
        if (error instanceof Error && isShardOverloaded(error.cause)) throw await this.refused(error, input.past ? [] : [...ids]);
        lastError = error;
        // Why the rows are rebuilt (or the request fails): the client sees only a delay, the logs the cause.
        console.warn(JSON.stringify({ event: "shard_step_failed", attempt: attempt + 1, attempts: this.attempts, rows: ids.size, seq, error: messageOf(error) }));
      }
    }
    // The rows are gone for this front; every shard that still holds them forgets them.
    this.rows.drop(ids);
    void this.flush().catch(() => undefined);
    throw new ShardUnavailableError(`the model's shards failed ${this.attempts} times in a row: ${messageOf(lastError)}`);
  }

  /**
   * A shard had no room for the step: rows it would have started (`fresh`) are forgotten by every
   * shard that took them, running rows stay as the front knows them (a shard that ran the step
   * holds more of them, which the next step cuts back to what it sends).
   */
  private async refused(error: Error, fresh: string[]): Promise<ForwardOverloadedError> {
    this.rows.drop(fresh);
    await this.release(fresh).catch(() => undefined); // or with the next step that carries releases
    return new ForwardOverloadedError(`the model's shards have no room for these rows now (${error.message})`);
  }

  /**
   * Rows rebuilt on every shard from the tokens they were fed (rows of one length in one step);
   * the first such step carries `release`, so each shard first drops whatever it held of them.
   * Returns the releases still to send (all of them when no row had tokens yet).
   */
  private async refill(rows: readonly PlannedRow[], release: string[]): Promise<string[]> {
    const byLength = new Map<number, PlannedRow[]>();
    for (const row of rows) if (row.history.length > 0) byLength.set(row.history.length, [...(byLength.get(row.history.length) ?? []), row]);
    for (const [length, group] of byLength) {
      await this.chunked(group.map(({ id, history, reach }) => ({ id, past: 0, history, reach })), length, group.flatMap((row) => row.history), release);
      release = [];
    }
    return release;
  }

  /**
   * `seq` new tokens per row (row-major `ids`) in steps of at most maxStepPositions positions; the
   * first step carries `release` and the forks' copies. The last shard's output of the last step.
   */
  private async chunked(rows: readonly ShardRow[], seq: number, ids: readonly number[], release: string[]): Promise<Float32Array> {
    if (seq > this.maxStepPositions && rows.length > 1) {
      // GroupQueryAttention takes several new positions on top of a past for one row only.
      const out = new Float32Array(rows.length * this.options.head.hidden);
      for (const [r, row] of rows.entries()) {
        out.set(await this.chunked([row], seq, ids.slice(r * seq, (r + 1) * seq), r === 0 ? release : []), r * this.options.head.hidden);
      }
      return out;
    }
    let hidden: Float32Array | null = null;
    for (let from = 0; from < seq; from += this.maxStepPositions) {
      const n = Math.min(this.maxStepPositions, seq - from);
      const step = from === 0 ? rows : rows.map(({ id, past }) => ({ id, past: past + from }));
      const tokens = rows.flatMap((_, r) => ids.slice(r * seq + from, r * seq + from + n));
      const positions = step.flatMap(({ past }) => Array.from({ length: n }, (_, i) => past + i));
      hidden = await this.pipeline(step, n, this.options.head.embed(tokens), positions, from === 0 ? release : []);
    }
    return hidden!;
  }

  /** One step through every shard in order; the last shard's output for each row's last position. */
  private async pipeline(rows: readonly ShardRow[], seq: number, embeds: Float32Array, positionIds: number[], release: string[]): Promise<Float32Array> {
    const wire = rows.map(({ id, past, copyOf, reach, forks }): ShardRow => ({ id, past, ...(copyOf !== undefined && { copyOf }), ...(reach !== undefined && { reach }), ...(forks ? { forks } : {}) }));
    let hidden = embeds;
    for (let i = 0; i < this.options.count; i++) {
      const lastOnly = i === this.options.count - 1;
      const request: ShardStepRequest = { rows: wire, seq, hidden, positionIds, release, lastOnly };
      const result = await this.call(i, (shard) => shard.step(request));
      const expected = rows.length * (lastOnly ? 1 : seq) * this.options.head.hidden;
      if (result.hidden?.length !== expected) throw new Error(`shard ${i} returned ${result.hidden?.length} hidden values, expected ${expected}`);
      hidden = result.hidden;
    }
    return hidden;
  }

  /** A call on shard `index` through a stub of this request's, bounded in time. */
  private async call<T>(index: number, task: (shard: ShardApi) => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.callTimeoutMs} ms`)), this.callTimeoutMs);
    });
    try {
      return await Promise.race([task(this.options.connect(index)), timeout]);
    } catch (error) {
      throw new Error(`shard ${index}: ${messageOf(error)}`, { cause: error });
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
