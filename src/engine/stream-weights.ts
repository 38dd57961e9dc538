// Weights loaded without holding them twice. onnxruntime copies every initializer out of the
// external-data "file" into its WASM heap; a file read whole first would sit next to that copy.
//
// onnxruntime-web reads external data through one tiny interface: the mounted "file" must be a
// Uint8Array (ORT's loadFile passes those through unchanged) and its glue asks it, once per
// initializer, for `byteLength` and `subarray(offset, offset + length)`, copying that range into
// its heap at once. So the file can be a Uint8Array *look-alike* holding one buffer per initializer
// range (the ranges come from the graph: external-ranges.ts), filled as the file streams in and is
// hashed (verifyStream), each buffer detached — its memory returned at once, no GC needed — as soon
// as onnxruntime has copied it. A range is always one buffer, so a read is a view, never a copy:
// with fixed-size chunks every range crossing a chunk boundary was copied into a fresh buffer,
// ~40 MiB of garbage (distilgpt2) that sat next to the whole WASM heap until a GC.
// Reading a range twice or out of the plan throws, which ORT reports as a load failure: a wrong
// assumption fails loudly, never silently.
import { verifyStream } from "../model/verify";
import type { ExternalRange } from "./external-ranges";

let readObserver: ((liveBytes: number) => void) | null = null;

/** Benchmark hook: `observe` becomes the onRead of every ChunkedWeights made from now on. */
export function observeWeightReads(observe: ((liveBytes: number) => void) | null): void {
  readObserver = observe;
}

interface Piece {
  /** Where it starts in the file, and its bytes (null once released). */
  offset: number;
  length: number;
  bytes: Uint8Array<ArrayBuffer> | null;
  /** Planned ranges inside it not yet read; at 0 it is released. */
  pending: number;
}

export class ChunkedWeights extends Uint8Array {
  /** Sorted by offset, not overlapping: the graph's ranges, overlapping ones merged. */
  private readonly pieces: Piece[];
  /** Planned ranges ("offset:length") not yet read: the piece holding each, and reads left. */
  private readonly planned = new Map<string, { piece: Piece; reads: number }>();
  /** Pieces whose last range was just served: released on the next call, after ORT has copied. */
  private toDrop: Piece[] = [];
  private readonly total: number;
  /** Bytes held for ranges (what was stored, padding between ranges is not) and released so far. */
  readonly heldBytes: number;
  droppedBytes = 0;
  /** Called on every read onnxruntime makes (inside its one synchronous session-creation call,
   * where no outside sampler can look): lets a caller record the peak of held bytes + WASM heap. */
  onRead: ((liveBytes: number) => void) | null = readObserver;

  constructor(total: number, ranges: ExternalRange[]) {
    super(0);
    this.total = total;
    const spans = ranges
      // No length: "the rest of the file", which is what ORT then asks for.
      .map((r) => ({ offset: r.offset, end: Number.isFinite(r.length) ? r.offset + r.length : total }))
      .filter((s) => s.end > s.offset)
      .sort((a, b) => a.offset - b.offset);
    this.pieces = [];
    for (const span of spans) {
      if (span.end > total) throw new Error(`the graph reads bytes ${span.offset}–${span.end} of a ${total}-byte weights file`);
      let piece = this.pieces.at(-1);
      if (piece && span.offset < piece.offset + piece.length) piece.length = Math.max(piece.length, span.end - piece.offset);
      else this.pieces.push((piece = { offset: span.offset, length: span.end - span.offset, bytes: null, pending: 0 }));
      const key = `${span.offset}:${span.end - span.offset}`;
      const plan = this.planned.get(key) ?? { piece, reads: 0 };
      plan.reads++; // two initializers on one range: read twice
      piece.pending++;
      this.planned.set(key, plan);
    }
    for (const piece of this.pieces) piece.bytes = new Uint8Array(piece.length);
    this.heldBytes = this.pieces.reduce((sum, p) => sum + p.length, 0);
  }

  override get byteLength(): number {
    return this.total;
  }

  /** Copies the file's bytes [offset, offset + chunk.length) into the pieces they belong to. */
  place(chunk: Uint8Array, offset: number): void {
    const end = offset + chunk.length;
    for (let i = this.pieceAt(offset, true); i < this.pieces.length && this.pieces[i].offset < end; i++) {
      const piece = this.pieces[i];
      const from = Math.max(offset, piece.offset);
      const to = Math.min(end, piece.offset + piece.length);
      if (to > from) piece.bytes!.set(chunk.subarray(from - offset, to - offset), from - piece.offset);
    }
  }

  override subarray(begin = 0, end = this.total): Uint8Array<ArrayBuffer> {
    this.dropServed();
    if (end <= begin) return new Uint8Array(0);
    const piece = this.pieces[this.pieceAt(begin, false)];
    if (!piece || end > piece.offset + piece.length) throw new Error(`weights bytes ${begin}–${end} are not an initializer range the graph names`);
    if (!piece.bytes) throw new Error(`weights bytes ${begin}–${end} were already released (read twice or out of plan)`);
    const out = piece.bytes.subarray(begin - piece.offset, end - piece.offset);
    const plan = this.planned.get(`${begin}:${end - begin}`);
    if (plan && plan.reads > 0) {
      plan.reads--; // a read beyond the plan is not counted
      if (--piece.pending === 0) this.toDrop.push(piece);
    }
    this.onRead?.(this.heldBytes - this.droppedBytes);
    return out;
  }

  /** Drops what was served (call once onnxruntime is done) and everything else: the session has its copy. */
  release(): void {
    this.toDrop = this.pieces;
    this.dropServed();
  }

  private dropServed(): void {
    for (const piece of this.toDrop) {
      if (!piece.bytes) continue;
      this.droppedBytes += piece.length;
      // Detaching frees the backing store now; letting go of the reference would wait for a GC.
      (piece.bytes.buffer as unknown as { transfer(length: number): ArrayBuffer }).transfer(0);
      piece.bytes = null;
    }
    this.toDrop = [];
  }

  /** Index of the piece containing `offset`, or (`orNext`) of the first piece after it. */
  private pieceAt(offset: number, orNext: boolean): number {
    let [low, high] = [0, this.pieces.length];
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.pieces[mid].offset + this.pieces[mid].length <= offset) low = mid + 1;
      else high = mid;
    }
    if (orNext || (low < this.pieces.length && this.pieces[low].offset <= offset)) return low;
    return this.pieces.length;
  }
}

/**
 * The weights file `body`, hashed as it streams and kept only where the graph's ranges are; rejects
 * (before onnxruntime sees a byte) when the size or sha256 differs from the manifest's.
 */
export async function streamWeights(
  body: ReadableStream<Uint8Array>,
  expected: { bytes: number; sha256: string; path: string },
  ranges: ExternalRange[],
  location: string,
): Promise<ChunkedWeights> {
  const mine = ranges.filter((r) => r.location.replace(/^\.\//, "") === expected.path.replace(/^\.\//, ""));
  const weights = new ChunkedWeights(expected.bytes, mine);
  try {
    await verifyStream(body, { ...expected, role: "weights" }, location, (chunk, offset) => weights.place(chunk, offset));
  } catch (error) {
    weights.release();
    throw error;
  }
  return weights;
}
