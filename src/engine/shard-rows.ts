// The front's record of a sharded model's rows (issue 14): every token id each row was fed, so a
// row whose keys/values a shard lost (evicted, restarted, failed mid-step) can be computed again
// from its tokens — nothing else about a row is needed to rebuild it — and the rows that left
// the batch, whose keys/values every shard must still be told to forget.
import type { KvRow } from "./forward";
import type { ShardRow } from "./shard-protocol";

/** One row of a step as the shards see it, with the tokens it was fed before the step. */
export interface PlannedRow extends ShardRow {
  /** Token ids fed before this step (a fork's: its source's), one per held position. */
  history: readonly number[];
}

export class ShardRows {
  /** Tokens fed to each row the shards may hold (live rows, and rows not yet released). */
  private readonly tokens = new Map<string, number[]>();
  /** Positions each row may reach (its request's prompt and max_new_tokens), sent with its steps. */
  private readonly reach = new Map<string, number>();
  /** Rows that left, not yet forgotten by every shard (a fork may still copy one). */
  private readonly leaving = new Set<string>();
  private next = 0;

  /** `prefix` makes ids unique beyond this front's life (shard instances may outlive it). */
  constructor(private readonly prefix: string) {}

  /** Live rows and rows still to release: both 0 once nothing is in flight. */
  get size(): { live: number; leaving: number } {
    return { live: [...this.tokens.keys()].filter((id) => !this.leaving.has(id)).length, leaving: this.leaving.size };
  }

  /** Names for `count` new rows (a prefill from the start), each to reach `reach` positions, with `forks` copies to come. */
  fresh(count: number, reserve?: { positions: number; rows: number }): PlannedRow[] {
    return Array.from({ length: count }, () => {
      const id = `${this.prefix}${this.next++}`;
      if (reserve) this.reach.set(id, reserve.positions);
      return { id, past: 0, history: [], ...(reserve && { reach: reserve.positions, forks: reserve.rows - 1 }) };
    });
  }

  /**
   * The step's rows from the cache's names: each holds as many positions as it was fed tokens; a
   * fork not made yet starts as a copy of its source (which must still be live).
   */
  plan(rows: readonly KvRow[], positionIds: readonly number[], seq: number): PlannedRow[] {
    return rows.map((row, r) => {
      const own = this.tokens.get(row.id);
      const source = own ? undefined : row.copyOf;
      const history = own ?? (source !== undefined ? this.tokens.get(source) : undefined);
      if (!history) throw new Error(`the sharded forward knows no row ${row.id}${row.copyOf ? ` (a copy of ${row.copyOf})` : ""}`);
      if (positionIds[r * seq] !== history.length) {
        throw new Error(`row ${row.id} holds ${history.length} positions, the step starts at position ${positionIds[r * seq]}`);
      }
      const reach = this.reach.get(row.id) ?? (row.copyOf !== undefined ? this.reach.get(row.copyOf) : undefined);
      if (reach !== undefined) this.reach.set(row.id, reach);
      return { id: row.id, past: history.length, history, ...(source !== undefined && { copyOf: source }), ...(reach !== undefined && { reach }) };
    });
  }

  /** After a step every shard took: the rows hold its tokens too. */
  commit(rows: readonly PlannedRow[], inputIds: readonly number[], seq: number): void {
    rows.forEach((row, r) => {
      this.tokens.set(row.id, [...row.history, ...inputIds.slice(r * seq, (r + 1) * seq)]);
      this.leaving.delete(row.id);
    });
  }

  /** Rows that left the batch (or whose request failed): their keys/values can go. */
  drop(ids: Iterable<string>): void {
    for (const id of ids) this.leaving.add(id);
  }

  /**
   * Rows every shard may forget before a step of `rows`: all that left, except the sources of
   * forks this step makes (a row that finished on its first token may have forks still running).
   */
  releasable(rows: readonly ShardRow[] = []): string[] {
    const sources = new Set(rows.flatMap((row) => (row.copyOf === undefined ? [] : [row.copyOf])));
    return [...this.leaving].filter((id) => !sources.has(id));
  }

  /** Every shard forgot these. */
  released(ids: readonly string[]): void {
    for (const id of ids) {
      this.leaving.delete(id);
      this.tokens.delete(id);
      this.reach.delete(id);
    }
  }
}
