// How long a request would wait for batch slots, from what is running and queued: every row is
// assumed to run to its max_new_tokens (an upper bound: rows ending early only make it sooner).
// The scheduler refuses a request at once when even that wait leaves it no time to start, instead
// of letting it sit in the queue until its budget runs out.

export interface QueuedJob {
  rows: number;
  /** Decode steps each of its rows takes at most. */
  steps: number;
}

/**
 * Decode steps until a job of `rows` rows can start: running rows leave after their remaining
 * steps, queued jobs ahead start first-come-first-served as soon as enough slots are free.
 */
export function stepsUntilStart(runningRemaining: readonly number[], ahead: readonly QueuedJob[], maxRows: number, rows: number): number {
  const finishes = [...runningRemaining];
  let start = 0;
  for (const job of [...ahead, { rows, steps: 0 }]) {
    // Slots still taken at `start`; the job needs `rows` free ones, and cannot start before the
    // job ahead of it did.
    const busy = finishes.filter((t) => t > start).sort((a, b) => a - b);
    const mustLeave = busy.length - (maxRows - job.rows);
    if (mustLeave > 0) start = busy[mustLeave - 1];
    for (let i = 0; i < job.rows; i++) finishes.push(start + job.steps);
  }
  return start;
}

/** Exponentially weighted mean of step durations (ms); null until the first step. */
export class StepTimer {
  private mean: number | null = null;
  constructor(private readonly weight = 0.2) {}

  record(ms: number): void {
    this.mean = this.mean === null ? ms : this.mean + this.weight * (ms - this.mean);
  }

  get msPerStep(): number | null {
    return this.mean;
  }
}

/**
 * How long to wait after the model refused a step for memory it does not control (a shard isolate
 * other fronts share): 50 ms, doubling per refusal in a row up to 1 s; a step it takes resets it.
 */
export class RefusalBackoff {
  private until = 0;
  private streak = 0;

  refused(now: number): void {
    this.until = now + Math.min(1000, 50 * 2 ** this.streak++);
  }

  taken(): void {
    this.until = 0;
    this.streak = 0;
  }

  waitMs(now: number): number {
    return Math.max(0, this.until - now);
  }
}
