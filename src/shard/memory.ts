// Keys/values counted across the whole isolate (issue 14). Durable Object instances of one class may
// share an isolate, and every front isolate reaches an instance of its own: their keys/values then
// share one 128 MB while each front budgets the isolate as if it were its own. So the shard keeps
// every instance's charge here, in module state (one ledger per isolate, whichever instance runs),
// and refuses a step that would take the isolate past its budget (ShardOverloaded) before anything
// is allocated: ISOLATE_MEMORY_BYTES − the WebAssembly memory its graph took − the JS reserve, the
// front's formula, charged with the front's cost model (engine/kv-budget.ts): every row of an
// instance padded to the longest reach among them, headroom and every copy counted.
//
// An instance's entry goes when it holds nothing; when a new instance of the same Durable Object
// comes up in the isolate (the old one was reset: its rows are given back at once); or, when room
// is short, once it has not run a step for STALE_MS: an instance evicted after its front isolate
// went away has no successor, and its rows no caller (a front that comes back meets
// ShardStateLost and rebuilds them).
import { kvBytesFor, kvBytesPerPosition } from "../engine/kv-budget";
import { ShardOverloaded, type ShardIsolateStatus, type ShardRow } from "../engine/shard-protocol";

/** Twice the front's bound on one shard call: a front this long silent has given its rows up. */
export const STALE_MS = 120_000;

interface Entry {
  account: KvAccount;
  rows: number;
  kvBytes: number;
  charged: number;
  usedAt: number;
}

/** This isolate's instances by key (module state: shared by every instance the isolate runs). */
const ledger = new Map<string, Entry>();
let refusals = 0;

export function isolateStatus(budgetBytes: number | null): ShardIsolateStatus {
  const entries = [...ledger.values()].filter((e) => e.rows > 0 || e.charged > 0);
  const sum = (pick: (e: Entry) => number) => entries.reduce((total, e) => total + pick(e), 0);
  return { instances: entries.length, rows: sum((e) => e.rows), kvBytes: sum((e) => e.kvBytes), chargedBytes: sum((e) => e.charged), budgetBytes, refusals };
}

interface Reservation {
  reach: number;
  forks: number;
}

/** Rows an instance holds after a step or release: id → positions held. */
export type Held = ReadonlyMap<string, number>;

/** One instance's share of the isolate: its rows' reservations and its entry in the ledger. */
export class KvAccount {
  private reserved = new Map<string, Reservation>();
  private readonly bytesPerPosition: number;
  /** A new instance of the same Durable Object took over: this one counts no more. */
  private replaced = false;

  /**
   * `key` names the Durable Object (a new account under a key closes the last one's: `drop` gives
   * that instance's rows back); `budgetBytes` null: no byte limit (rows are still counted).
   */
  constructor(private readonly key: string, width: number, blocks: number, readonly budgetBytes: number | null, private readonly drop: () => void) {
    this.bytesPerPosition = kvBytesPerPosition(width, blocks);
    const last = ledger.get(key)?.account;
    if (last) {
      last.replaced = true;
      last.expire();
    }
  }

  /**
   * Before a step of `rows` (`seq` new positions each), with `others` the rows the instance keeps
   * besides them: charges what it will hold after the step, or throws ShardOverloaded, changing
   * nothing, when that is more than it is charged now and takes the isolate past its budget.
   */
  admit(rows: readonly ShardRow[], seq: number, others: Held): void {
    const next = new Map<string, Reservation>();
    for (const [id, length] of others) next.set(id, this.grown(id, length));
    for (const row of rows) {
      const known = this.reserved.get(row.id);
      const reach = Math.max(row.reach ?? 0, row.copyOf === undefined ? 0 : (this.reserved.get(row.copyOf)?.reach ?? 0));
      next.set(row.id, { reach: Math.max(reach, known?.reach ?? 0, row.past + seq), forks: row.forks ?? known?.forks ?? 0 });
    }
    // A fork made now was charged with its source since the prefill.
    for (const row of rows) {
      const source = row.copyOf !== undefined && !this.reserved.has(row.id) ? next.get(row.copyOf) : undefined;
      if (source && source.forks > 0) next.set(row.copyOf!, { ...source, forks: source.forks - 1 });
    }
    const charge = this.chargeOf(next);
    const entry = this.entry();
    entry.usedAt = Date.now();
    if (this.budgetBytes !== null && charge > entry.charged) {
      const others = () => [...ledger.values()].reduce((sum, e) => sum + (e === entry ? 0 : e.charged), 0);
      if (others() + charge > this.budgetBytes) KvAccount.expireStale(entry);
      const used = others();
      if (used + charge > this.budgetBytes) {
        const holders = [...ledger.values()].filter((e) => e !== entry && e.charged > 0).length;
        refusals++;
        if (entry.rows === 0) this.uncount();
        const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
        throw new ShardOverloaded(
          `this step needs ${mib(charge)} MiB of keys/values for this instance's rows, and ${holders} other instance(s) in the shard's isolate ` +
            `hold ${mib(used)} MiB of its ${mib(this.budgetBytes)} MiB budget`,
        );
      }
    }
    this.reserved = next;
    entry.charged = charge;
  }

  /** After a step or a release: what the instance holds now (rows no longer held are uncharged). */
  settle(held: Held, kvBytes: number): void {
    const next = new Map<string, Reservation>();
    for (const [id, length] of held) next.set(id, this.grown(id, length));
    this.reserved = next;
    if (held.size === 0) this.uncount();
    else Object.assign(this.entry(), { rows: held.size, kvBytes, charged: this.chargeOf(next) });
  }

  /** The instance was reset, or is stale: its rows are given back, and it counts no more. */
  private expire(): void {
    this.uncount();
    this.reserved.clear();
    this.drop();
  }

  private uncount(): void {
    if (ledger.get(this.key)?.account === this) ledger.delete(this.key);
  }

  private grown(id: string, length: number): Reservation {
    const known = this.reserved.get(id);
    return { reach: Math.max(known?.reach ?? 0, length), forks: known?.forks ?? 0 };
  }

  private chargeOf(rows: ReadonlyMap<string, Reservation>): number {
    let count = 0;
    let reach = 0;
    for (const r of rows.values()) {
      count += 1 + r.forks;
      reach = Math.max(reach, r.reach);
    }
    return count === 0 ? 0 : kvBytesFor(this.bytesPerPosition, count, reach);
  }

  /** This instance's entry, made when it starts to hold rows; a replaced one's step counts nowhere. */
  private entry(): Entry {
    const entry = ledger.get(this.key);
    if (entry?.account === this) return entry;
    const fresh: Entry = { account: this, rows: 0, kvBytes: 0, charged: 0, usedAt: Date.now() };
    if (!this.replaced) ledger.set(this.key, fresh);
    return fresh;
  }

  /** Instances that have not run a step for STALE_MS (but `keep`) give their rows back. */
  static expireStale(keep: Entry): void {
    const now = Date.now();
    for (const entry of [...ledger.values()]) if (entry !== keep && now - entry.usedAt >= STALE_MS) entry.account.expire();
  }
}
