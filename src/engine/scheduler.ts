// Continuous batching: the only owner of a model's forward pass. Requests that arrive while others
// generate join the batch at the next step: each newcomer's prompt is prefilled on its own, then
// its rows are stacked under the running ones (padded to one length, masked out), so one forward
// step serves every sequence. Finished rows leave at once; padding no row needs is trimmed away.
// How rows are padded is the model's KvLayout; on the right-padded-append layout a row's numbers
// are exactly those of the same request alone, on left-padded graphs they can differ in the last bits.
// A row alone in the batch whose request asks for prompt lookup feeds draft tokens after its last
// token, and keeps those the model agrees with (prompt-lookup.ts; only alone, as Hugging Face's
// assisted decoding only runs with batch size 1: rows of one step would accept different counts).
// A model may refuse a step for memory held outside this isolate (ForwardOverloadedError: a sharded
// model's shard isolate, shared with other fronts): a refused prefill goes back to the head of the
// queue and waits like one that does not fit the batch yet (503 overloaded once its budget runs
// out); a refused decode step is tried again, its rows as they were.
import { RefusalBackoff, StepTimer, stepsUntilStart } from "./admission";
import { checkFits, kvBytesFor, type KvBudget } from "./kv-budget";
import { ForwardOverloadedError, type Forward, type KvCache } from "./forward";
import { detachArray, detachBuffers, repeatRows, selectRows, type Release } from "./kv";
import type { KvLayout } from "./kv-layout";
import type { PrefixCache } from "./prefix-cache";
import { lookupDrafts } from "./prompt-lookup";
import { Sequence, type SequenceResult, type SequenceSpec } from "./sequence";
import { batchInterrupt, type Budget } from "./stopping";

export interface GenerationJob extends SequenceSpec {
  numSequences: number;
  budget: Budget;
  /** Called once, when the job's prompt is prefilled and its rows join the batch (until then it may
   * still be refused with an error status), with the time its prefill began (its wait ended). */
  onStart?: (prefillStartedAt: number) => void;
}

export interface JobResult {
  sequences: SequenceResult[];
  /** Time spent waiting for a batch slot before prefill. */
  waitMs: number;
  prefillMs: number;
  /** Prompt positions whose keys/values came from the prefix cache instead of prefill. */
  cachedTokens: number;
  decodeMs: number;
  /** Batched forward steps this request took part in after prefill. */
  steps: number;
}

export interface SchedulerLimits {
  /** Most sequences in one batched step. 1 = no batching (requests take turns). */
  maxBatchRows: number;
  /** Most requests waiting for a slot; beyond it submit() throws SchedulerBusyError. */
  maxWaiting: number;
  /** Rows are also admitted by the bytes their keys/values can reach; null = rows only. */
  budget?: KvBudget | null;
}

export interface SchedulerOptions {
  /** Lets requests arrive, streams flush and aborts land between steps. */
  pause?: () => Promise<void>;
  /** Prompts' keys/values kept for reuse; null = every prompt is prefilled in full. */
  prefixCache?: PrefixCache | null;
  /** Named rows (a sharded model's, KvCache.rows) that left the batch: their keys/values can go. */
  rowsLeft?: (ids: string[]) => void;
  /** The model returns logits for several positions per step and its cache can drop rejected
   * positions (right-padded-append): requests' prompt_lookup_num_tokens takes effect. */
  promptLookup?: boolean;
}

/** The request cannot get a batch slot (queue full, or no time left to start): retry later. */
export class SchedulerBusyError extends Error {
  override name = "SchedulerBusyError";
  /** When a retry may find room, in seconds. */
  constructor(message: string, readonly retryAfterSeconds = 1) {
    super(message);
  }
}

interface Job {
  spec: GenerationJob;
  sequences: Sequence[];
  /** Set once, when the job finished or failed; its own request reads it (see drive). */
  outcome: { result: JobResult } | { error: unknown } | null;
  submittedAt: number;
  prefillStart: number;
  prefillEnd: number;
  cachedTokens: number;
  steps: number;
  failed: boolean;
  /** Why the model last refused its prefill (it waits for room), or null. */
  refused: string | null;
}

interface Slot {
  job: Job;
  sequence: Sequence;
  /** Positions of this row's keys/values that hold data; the rest of the batch length is padding. */
  length: number;
  /** Logits the sequence has not chosen from yet: one position, or one per token fed by a step
   * that verified drafts (its last token, then each draft), computed as they are read. */
  logits: { count: number; at(i: number): Float32Array } | null;
  /** The draft tokens that step fed after the row's last token. */
  drafts: number[];
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class BatchScheduler {
  private waiting: Job[] = [];
  private slots: Slot[] = [];
  private kv: KvCache | null = null;
  /** Whether the batch alone holds this.kv's buffers (not a prefix-cache entry or a prefill's present). */
  private kvOwned = false;
  private running: Promise<void> | null = null;
  private readonly pause: () => Promise<void>;
  private readonly prefixCache: PrefixCache | null;
  private readonly rowsLeft: (ids: string[]) => void;
  private readonly promptLookup: boolean;
  private readonly stepTimer = new StepTimer();
  private readonly admitBackoff = new RefusalBackoff();
  private readonly stepBackoff = new RefusalBackoff();
  /** When the running batch's previous step started (null: the batch was empty). workerd's clock
   * only moves across I/O, so a step is timed start to start, pauses and newcomers' prefills included. */
  private lastStepAt: number | null = null;

  constructor(
    private readonly forward: Forward,
    private readonly layout: KvLayout,
    private readonly limits: SchedulerLimits,
    options: SchedulerOptions = {},
  ) {
    this.pause = options.pause ?? yieldToEventLoop;
    this.prefixCache = options.prefixCache ?? null;
    this.rowsLeft = options.rowsLeft ?? (() => undefined);
    this.promptLookup = options.promptLookup ?? false;
  }

  /** Resolves once no request is running or waiting (the engine is released only then). */
  async idle(): Promise<void> {
    while (this.slots.length > 0 || this.waiting.length > 0 || this.running) await this.pause();
  }

  /** Sequences generating now and requests waiting (/health reports them). */
  get activity(): { rows: number; waiting: number } {
    return { rows: this.slots.length, waiting: this.waiting.length };
  }

  submit(spec: GenerationJob): Promise<JobResult> {
    if (spec.numSequences < 1 || spec.numSequences > this.limits.maxBatchRows) {
      return Promise.reject(new RangeError(`numSequences must be 1..${this.limits.maxBatchRows}`));
    }
    if (this.waiting.length >= this.limits.maxWaiting) {
      return Promise.reject(new SchedulerBusyError(`${this.waiting.length} requests are already waiting for this model`));
    }
    if (this.limits.budget) {
      try {
        checkFits(this.limits.budget, spec.numSequences, reach(spec));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const now = spec.budget.now();
    const waitMs = this.expectedWaitMs(spec.numSequences);
    if (spec.budget.deadline !== null && waitMs !== null && now + waitMs >= spec.budget.deadline) {
      const seconds = Math.ceil(waitMs / 1000);
      return Promise.reject(new SchedulerBusyError(
        `the requests ahead of this one need about ${seconds} s before a batch slot frees up, longer than its time budget`,
        Math.max(1, Math.ceil((waitMs - (spec.budget.deadline - now)) / 1000)),
      ));
    }
    const sequences = Array.from({ length: spec.numSequences }, (_, i) => new Sequence(i, spec));
    const job: Job = { spec, sequences, outcome: null, submittedAt: now, prefillStart: now, prefillEnd: now, cachedTokens: 0, steps: 0, failed: false, refused: null };
    this.waiting.push(job);
    return this.drive(job);
  }

  /**
   * Every waiting request drives the batch: whoever finds no iteration running starts the next
   * one and waits for all of it, so an iteration always runs inside the I/O context of a request
   * that is still waiting for it. workerd cancels a request's pending work once its response is
   * done, and does not run promise reactions across request contexts reliably: a loop owned by
   * the first request would stop with it, and a job settled by resolving a promise created in
   * another request would never wake. So a job's outcome is plain state, read by its own request.
   */
  private async drive(job: Job): Promise<JobResult> {
    while (job.outcome === null) {
      if (!this.running) {
        this.running = this.iterate();
        try {
          await this.running;
        } finally {
          this.running = null;
        }
      } else {
        await this.pause(); // another request's iteration is running: look again after it yields
      }
    }
    if ("error" in job.outcome) throw job.outcome.error;
    return job.outcome.result;
  }

  /** At most how long a new job of `rows` rows waits for slots (every row runs to its max), or null before any step was timed. */
  private expectedWaitMs(rows: number): number | null {
    const msPerStep = this.stepTimer.msPerStep;
    if (msPerStep === null) return null;
    const remaining = this.slots.map((slot) => slot.job.spec.maxNewTokens - slot.sequence.tokenIds.length);
    const ahead = this.waiting.map((job) => ({ rows: job.spec.numSequences, steps: job.spec.maxNewTokens }));
    return stepsUntilStart(remaining, ahead, this.limits.maxBatchRows, rows) * msPerStep;
  }

  /**
   * Waiting requests whose budget ran out, or whose client left, before they got a slot: the first
   * get an error they can act on (503, retry later), not an empty success; the second just end.
   */
  private expireWaiting(): void {
    this.waiting = this.waiting.filter((job) => {
      const interrupt = batchInterrupt(job.spec.budget);
      if (!interrupt) return true;
      job.prefillStart = job.prefillEnd = job.spec.budget.now();
      if (interrupt === "cancelled") {
        for (const sequence of job.sequences) sequence.interrupt(interrupt);
        this.settle(job);
      } else {
        const waited = job.prefillStart - job.submittedAt;
        const wait = this.expectedWaitMs(job.spec.numSequences) ?? 1000;
        const why = job.refused ? `room for its keys/values (${job.refused})` : "a batch slot";
        this.fail(job, new SchedulerBusyError(`this request waited ${waited} ms for ${why} and its time budget ran out before it could start`, Math.max(1, Math.ceil(wait / 1000))));
      }
      return false;
    });
  }

  private async iterate(): Promise<void> {
    this.expireWaiting();
    await this.admit();
    this.choose();
    if (this.slots.length === 0) {
      this.lastStepAt = null;
      if (this.waiting.length > 0) await this.backOff(this.admitBackoff);
      return;
    }
    await this.pause();
    await this.step();
  }

  /** Prefill waiting requests that fit (first come, first served) and stack their rows in. */
  private async admit(): Promise<void> {
    let kept = false;
    while (this.waiting.length > 0 && this.admitBackoff.waitMs(Date.now()) === 0 && this.hasRoomFor(this.waiting[0].spec)) {
      const job = this.waiting.shift()!;
      // The running rows' logits are views a prefill's forward overwrites (TokenHead.lastLogits).
      if (!kept) for (const slot of this.slots) if (slot.logits?.count === 1) slot.logits = only(slot.logits.at(0).slice());
      kept = true;
      const { budget } = job.spec;
      job.prefillStart = budget.now();
      let prefill: { present: KvCache; logits: Float32Array };
      try {
        prefill = await this.prefill(job);
      } catch (error) {
        if (error instanceof ForwardOverloadedError) {
          // No room in the model for its rows yet: first in the queue again, as if the batch were full.
          job.refused = error.message;
          this.waiting.unshift(job);
          this.admitBackoff.refused(Date.now());
          break;
        }
        this.fail(job, error);
        continue;
      }
      this.admitBackoff.taken();
      job.spec.onStart?.(job.prefillStart);
      job.prefillEnd = budget.now();
      // The sequences share the prompt: its keys/values were computed once, now one row each. The
      // prefill's arrays are this job's alone (the prefix cache keeps copies): once repeated or
      // stacked into the batch's cache they are given back at once.
      const rows = repeatRows(prefill.present, job.sequences.length);
      this.setKv(this.kv === null ? rows : this.layout.stack(this.kv, rows, this.release()), true);
      detachBuffers([...prefill.present.tensors, ...rows.tensors], this.kv!.tensors);
      job.sequences.forEach((sequence, i) => {
        this.slots.push({ job, sequence, length: rows.length, logits: only(i === 0 ? prefill.logits : prefill.logits.slice()), drafts: [] });
      });
    }
  }

  /**
   * Whether the job's rows fit beside the running ones now: by count, and by the bytes the batch's
   * keys/values can reach (every row padded to the longest any row can grow to).
   */
  private hasRoomFor(spec: GenerationJob): boolean {
    if (this.slots.length + spec.numSequences > this.limits.maxBatchRows) return false;
    const budget = this.limits.budget;
    if (!budget || this.slots.length === 0) return true; // alone, submit() already checked it fits
    const longest = Math.max(reach(spec), ...this.slots.map((slot) => reach(slot.job.spec)));
    return kvBytesFor(budget.bytesPerPosition, this.slots.length + spec.numSequences, longest) <= budget.batchBytes;
  }

  /** After the model refused a step: wait out the backoff, or less when a waiting request's budget ends sooner. */
  private async backOff(backoff: RefusalBackoff): Promise<void> {
    const wait = backoff.waitMs(Date.now());
    if (wait === 0) return; // every decode step asks: no refusal, nothing to look at
    const budgets = this.waiting.flatMap(({ spec: { budget } }) => (budget.deadline === null ? [] : [budget.deadline - budget.now()]));
    const ms = Math.min(wait, ...budgets);
    if (ms > 0) await new Promise<void>((resolve) => setTimeout(resolve, ms));
  }

  /** The prompt's keys/values and next-token logits, reusing a cached prefix where there is one. */
  private async prefill(job: Job): Promise<{ present: KvCache; logits: Float32Array }> {
    const { promptIds } = job.spec;
    const hit = this.prefixCache?.lookup(promptIds) ?? null;
    job.cachedTokens = hit?.length ?? 0;
    if (hit?.logits) return { present: hit.kv, logits: hit.logits };
    const from = hit?.length ?? 0;
    const fresh = promptIds.slice(from);
    const past = hit?.kv ?? null;
    const output = await this.forward({
      batch: 1,
      seq: fresh.length,
      inputIds: fresh,
      attentionMask: promptIds.map(() => 1),
      positionIds: fresh.map((_, i) => from + i),
      past,
      reserve: { positions: reach(job.spec), rows: job.sequences.length },
    });
    // A compact cache that is not grown in place: the prefix cache copies it as it is.
    const present = this.layout.next(past, output.kv, [from], fresh.length, false);
    if (past) detachBuffers([...past.tensors, ...output.kv.tensors], present.tensors); // the hit's copy and the new positions, copied in
    const logits = output.logits[0].slice(); // kept past the next forward (TokenHead.lastLogits)
    this.prefixCache?.store(promptIds, present, logits);
    return { present, logits };
  }

  /** Every row picks its next token; finished rows and failed requests leave the batch. */
  private choose(): void {
    for (const slot of this.slots) {
      if (!slot.logits || slot.job.failed) continue;
      try {
        // Each fed draft the sequence itself chooses is kept: its keys/values are already cached.
        slot.length += acceptDrafts(slot);
      } catch (error) {
        this.fail(slot.job, error); // only this request: the batch itself is fine
      }
      slot.logits = null;
      slot.drafts = [];
    }
    for (const job of new Set(this.slots.map((slot) => slot.job))) {
      const interrupt = batchInterrupt(job.spec.budget);
      if (interrupt) for (const sequence of job.sequences) sequence.interrupt(interrupt);
    }
    const keep: number[] = [];
    this.slots.forEach((slot, i) => {
      if (!slot.job.failed && !slot.sequence.finished) keep.push(i);
    });
    const leaving = new Set(this.slots.filter((_, i) => !keep.includes(i)).map((slot) => slot.job));
    const named = this.kv?.rows;
    if (named && keep.length < named.length) this.rowsLeft(named.filter((_, i) => !keep.includes(i)).map((row) => row.id));
    this.setKv(keep.length > 0 && this.kv ? selectRows(this.kv, keep, this.release()) : null, true);
    this.slots = keep.map((i) => this.slots[i]);
    for (const job of leaving) if (!job.failed && job.sequences.every((s) => s.finished)) this.settle(job);
    const longest = Math.max(...this.slots.map((slot) => slot.length));
    if (this.kv && longest < this.kv.length) this.setKv(this.layout.trim(this.kv, longest, this.release()), true);
  }

  /** One token for every running row (a row alone: its drafts too), in one forward pass. */
  private async step(): Promise<void> {
    await this.backOff(this.stepBackoff);
    const kv = this.kv!;
    const slots = this.slots;
    const drafts = this.draftsFor(slots);
    const seq = 1 + drafts.length;
    const attentionMask: number[] = [];
    for (const slot of slots) this.layout.pushMask(attentionMask, slot.length, kv.length, seq);
    const started = Date.now();
    if (this.lastStepAt !== null) this.stepTimer.record(started - this.lastStepAt);
    this.lastStepAt = started;
    try {
      const output = await this.forward({
        batch: slots.length,
        seq,
        inputIds: slots.flatMap((slot) => [slot.sequence.lastToken, ...drafts]),
        attentionMask,
        positionIds: slots.flatMap((slot) => Array.from({ length: seq }, (_, i) => slot.length + i)),
        past: kv,
        ...(seq > 1 ? { logitPositions: seq } : {}),
      });
      // Drafts' positions are written too; those rejected lie past the row's length (choose() then
      // trims them off: nothing reads beyond a row's length, and the next step overwrites them).
      // Grown once to what its rows can reach (the byte budget admitted that much): growing in
      // steps left every outgrown cache as old-generation garbage (measured: 10 MiB over 81 tokens).
      const reserve = Math.max(...slots.map((slot) => reach(slot.job.spec)));
      this.setKv(this.layout.next(kv, output.kv, slots.map((slot) => slot.length), seq, true, reserve, this.release()), true);
      detachBuffers(output.kv.tensors, this.kv?.tensors); // the step's new positions, once copied into the cache
      slots.forEach((slot, i) => {
        slot.length++;
        const positionLogits = output.positionLogits;
        slot.logits = seq > 1 && positionLogits ? { count: seq, at: (p) => positionLogits(i, p) } : only(output.logits[i]);
        slot.drafts = drafts;
      });
      for (const job of new Set(slots.map((slot) => slot.job))) job.steps++;
      this.stepBackoff.taken();
    } catch (error) {
      if (error instanceof ForwardOverloadedError) {
        // Nothing was lost: the rows keep their state and take the same step again after a wait.
        this.stepBackoff.refused(Date.now());
        this.lastStepAt = null;
        return;
      }
      // The batch's state is unknown now: fail the requests in it and start clean.
      for (const job of new Set(slots.map((slot) => slot.job))) this.fail(job, error);
      if (kv.rows) this.rowsLeft(kv.rows.map((row) => row.id));
      this.slots = [];
      this.kv = null;
    }
  }

  /** Where the batch's old arrays go as a reshaping copies them: detached at once when the batch
   * owns them, so the old cache and its replacement are never both held whole (kv-budget.ts). */
  private release(): Release | undefined {
    return this.kvOwned ? detachArray : undefined;
  }

  /**
   * The batch's cache replaced by `next` (`nextOwned`: its new buffers are the batch's alone). Buffers
   * of the old one the batch owned and `next` does not reuse are detached: freed at once, where a
   * dropped reference leaves them in the isolate until V8's next full GC (measured in workerd: 8
   * queued rows left 14 MiB of finished and outgrown caches behind).
   */
  private setKv(next: KvCache | null, nextOwned: boolean): void {
    const old = this.kv;
    if (old && this.kvOwned) detachBuffers(old.tensors, next?.tensors);
    if (next === null || !old || next.tensors.some((t, i) => t !== old.tensors[i])) this.kvOwned = next !== null && nextOwned;
    this.kv = next;
  }

  /** Draft tokens for this step: only for a row alone whose request asks for them, at most as many
   * as it may still generate after the step's own token. */
  private draftsFor(slots: Slot[]): number[] {
    if (!this.promptLookup || slots.length !== 1) return [];
    const { job, sequence } = slots[0];
    const { promptIds, maxNewTokens, eosTokenId, sampling } = job.spec;
    const count = Math.min(sampling.prompt_lookup_num_tokens, maxNewTokens - sequence.tokenIds.length - 1);
    return count > 0 ? lookupDrafts([...promptIds, ...sequence.tokenIds], count, eosTokenId) : [];
  }

  private settle(job: Job): void {
    const sequences = job.sequences.map((sequence) => sequence.complete());
    const now = job.spec.budget.now();
    job.outcome = { result: {
      sequences,
      waitMs: job.prefillStart - job.submittedAt,
      prefillMs: job.prefillEnd - job.prefillStart,
      cachedTokens: job.cachedTokens,
      decodeMs: now - job.prefillEnd,
      steps: job.steps,
    } };
  }

  private fail(job: Job, error: unknown): void {
    if (job.failed) return;
    job.failed = true;
    job.outcome = { error };
  }
}

/**
 * The sequence chooses from each position the step verified, in order, for as long as its choice
 * is the draft fed after that position (Hugging Face's rule, greedy or sampled: a draft is kept
 * only when it is the token the sequence would have chosen anyway). Returns how many drafts were
 * kept; the choice at the first disagreement (or after the last draft) is the row's next token.
 */
function acceptDrafts(slot: Slot): number {
  let accepted = 0;
  for (let i = 0; i < slot.logits!.count; i++) {
    slot.sequence.advance(slot.logits!.at(i));
    if (slot.sequence.finished || accepted === slot.drafts.length || slot.sequence.lastToken !== slot.drafts[accepted]) break;
    accepted++;
  }
  return accepted;
}

const only = (logits: Float32Array) => ({ count: 1, at: () => logits });

/** Positions a job's rows can reach: prompt plus every token it may generate. */
const reach = (spec: GenerationJob) => spec.promptIds.length + spec.maxNewTokens;
