// Byte-pair merging of one pre-tokenized piece in O(n log n): the parts form a linked list and the
// mergeable adjacent pairs sit in a min-heap keyed by (rank, position), so each step takes the
// lowest rank, leftmost first — the order of GPT-2's encoder and of tiktoken/gpt-tokenizer, whose
// rescan of every pair after each merge is quadratic in the piece (12 s for "a" * 128000).
// Parts are always whole tokens, so a pair's rank is the rank (= id) of the token it merges into.

/** Counts the work of a merge (pair look-ups + heap steps): tests bound it, production omits it. */
export interface MergeWork {
  steps: number;
}

/** `merge(left, right)`: the token the pair becomes, or -1 (see Vocabulary.merge). */
export type PairMerge = (left: number, right: number) => number;

const POSITION_SPAN = 2 ** 32; // heap key = rank * span + position: exact in a float64 for any piece

/**
 * Merge the single-byte tokens `parts[0..length)` (overwritten) and append the resulting tokens
 * to `out`.
 */
export function mergePiece(parts: Int32Array, length: number, merge: PairMerge, out: number[], work?: MergeWork): void {
  if (length === 1) {
    out.push(parts[0]);
    return;
  }
  const { next, prev, pairRank, heap } = scratchFor(length, work);
  let steps = 0;
  for (let i = 0; i < length; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    pairRank[i] = i + 1 < length ? merge(parts[i], parts[i + 1]) : -1;
    if (pairRank[i] >= 0) heap.push(pairRank[i] * POSITION_SPAN + i);
  }
  steps += length - 1;

  while (heap.size > 0) {
    const key = heap.pop();
    const rank = Math.floor(key / POSITION_SPAN);
    const at = key - rank * POSITION_SPAN;
    // Stale entry: the pair at `at` changed (a part on either side grew) or `at` was absorbed.
    // A part's bytes only grow, so a changed pair can never come back to the same rank.
    if (pairRank[at] !== rank) continue;
    const absorbed = next[at];
    parts[at] = rank;
    next[at] = next[absorbed];
    if (next[at] < length) prev[next[at]] = at;
    pairRank[absorbed] = -1;
    pairRank[at] = next[at] < length ? merge(rank, parts[next[at]]) : -1;
    if (pairRank[at] >= 0) heap.push(pairRank[at] * POSITION_SPAN + at);
    const before = prev[at];
    if (before >= 0) {
      pairRank[before] = merge(parts[before], rank);
      if (pairRank[before] >= 0) heap.push(pairRank[before] * POSITION_SPAN + before);
    }
    steps += 2;
  }
  for (let i = 0; i < length; i = next[i]) out.push(parts[i]);
  if (work) work.steps += steps;
}

// Scratch arrays reused across pieces (merging is synchronous, so never shared by two calls):
// most pieces are a few bytes, and four fresh typed arrays each would cost more than the merge.
// Long pieces get their own arrays, so the isolate does not keep megabytes after one long prompt.
interface Scratch {
  next: Int32Array; // index of the next part's first byte; `length` = end
  prev: Int32Array; // -1 = none
  pairRank: Int32Array; // rank of the pair starting at this part; -1 = none (or absorbed)
  heap: MinHeap;
}
const REUSED_CAPACITY = 4096;
let reused: Scratch | undefined;
function scratchFor(length: number, work: MergeWork | undefined): Scratch {
  let scratch: Scratch;
  if (length > REUSED_CAPACITY) scratch = newScratch(length);
  else scratch = reused ??= newScratch(REUSED_CAPACITY);
  scratch.heap.reset(work);
  return scratch;
}

function newScratch(capacity: number): Scratch {
  // ≤ capacity - 1 initial pairs + 2 per merge (at most capacity - 1 merges) are ever pushed.
  return { next: new Int32Array(capacity), prev: new Int32Array(capacity), pairRank: new Int32Array(capacity), heap: new MinHeap(3 * capacity) };
}

/** Binary min-heap of float64 keys with a fixed capacity. */
class MinHeap {
  private readonly keys: Float64Array;
  private work: MergeWork | undefined;
  size = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
  }

  reset(work: MergeWork | undefined): void {
    this.size = 0;
    this.work = work;
  }

  push(key: number): void {
    const keys = this.keys;
    let i = this.size++;
    let moves = 0;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] <= key) break;
      keys[i] = keys[parent];
      i = parent;
      moves++;
    }
    keys[i] = key;
    if (this.work) this.work.steps += moves + 1;
  }

  pop(): number {
    const keys = this.keys;
    const top = keys[0];
    const last = keys[--this.size];
    const size = this.size;
    let i = 0;
    let moves = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && keys[child + 1] < keys[child]) child++;
      if (keys[child] >= last) break;
      keys[i] = keys[child];
      i = child;
      moves++;
    }
    keys[i] = last;
    if (this.work) this.work.steps += moves + 1;
    return top;
  }
}
