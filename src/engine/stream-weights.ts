// Prototype (issue 12, item 2): load weights without holding them twice. Today the registry reads
// a weights file whole into one Uint8Array and onnxruntime copies every initializer out of it into
// WASM memory, so for a moment the isolate holds the weights in JS *and* in WASM.
//
// onnxruntime-web reads external data through one tiny interface: the mounted "file" must be a
// Uint8Array (ORT's loadFile passes those through unchanged) and its C++ side asks it, once per
// initializer, for `byteLength` and `subarray(offset, offset + length)`, copying that range into a
// buffer of its own in the WASM heap. So the file can be a Uint8Array *look-alike* made of 1 MiB
// chunks: streamed from the source (R2 body, fetch, assets) while hashing (crypto.DigestStream),
// and each chunk detached (its memory returned at once, no GC needed) as soon as every
// initializer range that touches it has been copied. Ranges come from the graph (external-ranges).
// Copying out of a chunk after it was dropped throws, which ORT reports as a load failure: a wrong
// assumption fails loudly, never silently.
import { ModelFileError } from "../model/verify";
import type { ExternalRange } from "./external-ranges";

const CHUNK_BYTES = 2 ** 20;

export class ChunkedWeights extends Uint8Array {
  private readonly chunks: (Uint8Array<ArrayBuffer> | null)[];
  /** Initializer ranges not yet copied, per chunk; a chunk at 0 is dropped. */
  private readonly pending: number[];
  private readonly rangeChunks = new Map<string, number[]>();
  /** Chunks whose last range was just served: dropped on the next call, after ORT has copied. */
  private toDrop: number[] = [];
  private readonly total: number;
  droppedBytes = 0;
  /** Called on every read onnxruntime makes (inside its one synchronous session-creation call,
   * where no outside sampler can look): lets a caller record the peak of chunks + WASM heap. */
  onRead: ((liveChunkBytes: number) => void) | null = null;

  constructor(chunks: Uint8Array<ArrayBuffer>[], total: number, ranges: ExternalRange[]) {
    super(0);
    this.chunks = chunks;
    this.total = total;
    this.pending = chunks.map(() => 0);
    for (const range of ranges) {
      if (!Number.isFinite(range.length)) continue; // "the rest of the file": never drop early
      const touched: number[] = [];
      for (let i = Math.floor(range.offset / CHUNK_BYTES); i * CHUNK_BYTES < range.offset + range.length; i++) touched.push(i);
      touched.forEach((i) => this.pending[i]++);
      this.rangeChunks.set(`${range.offset}:${range.length}`, touched);
    }
    this.toDrop = this.pending.flatMap((n, i) => (n === 0 ? [i] : [])); // padding only
  }

  override get byteLength(): number {
    return this.total;
  }

  override subarray(begin = 0, end = this.total): Uint8Array<ArrayBuffer> {
    this.dropServed();
    if (end <= begin) return new Uint8Array(0);
    const first = Math.floor(begin / CHUNK_BYTES);
    const last = Math.floor(Math.max(begin, end - 1) / CHUNK_BYTES);
    const piece = (i: number) => {
      const chunk = this.chunks[i];
      if (!chunk) throw new Error(`weights chunk ${i} was already released (bytes ${begin}–${end} read twice or out of plan)`);
      return chunk;
    };
    let out: Uint8Array<ArrayBuffer>;
    if (first === last) out = piece(first).subarray(begin - first * CHUNK_BYTES, end - first * CHUNK_BYTES);
    else {
      out = new Uint8Array(end - begin);
      for (let i = first; i <= last; i++) {
        const from = Math.max(begin, i * CHUNK_BYTES);
        const to = Math.min(end, (i + 1) * CHUNK_BYTES);
        out.set(piece(i).subarray(from - i * CHUNK_BYTES, to - i * CHUNK_BYTES), from - begin);
      }
    }
    for (const i of this.rangeChunks.get(`${begin}:${end - begin}`) ?? []) if (--this.pending[i] === 0) this.toDrop.push(i);
    this.rangeChunks.delete(`${begin}:${end - begin}`); // a second read of the range is not counted twice
    this.onRead?.(this.total - this.droppedBytes);
    return out;
  }

  /** Drops what was served (call once onnxruntime is done) and everything else: the session has its copy. */
  release(): void {
    this.toDrop = this.chunks.map((_, i) => i);
    this.dropServed();
  }

  private dropServed(): void {
    for (const i of this.toDrop) {
      const chunk = this.chunks[i];
      if (!chunk) continue;
      this.droppedBytes += chunk.byteLength;
      // Detaching frees the backing store now; letting go of the reference would wait for a GC.
      (chunk.buffer as { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
      this.chunks[i] = null;
    }
    this.toDrop = [];
  }
}

/**
 * Reads `body` into 1 MiB chunks while hashing it; rejects (before onnxruntime sees a byte) when
 * the size or sha256 differs from the manifest's.
 */
export async function streamWeights(
  body: ReadableStream<Uint8Array>,
  expected: { bytes: number; sha256: string; path: string },
  ranges: ExternalRange[],
  location: string,
): Promise<ChunkedWeights> {
  const file = `${location}/${expected.path}`;
  const digest = new crypto.DigestStream("SHA-256");
  const hasher = digest.getWriter();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let filled = CHUNK_BYTES;
  let total = 0;
  for await (const part of body as unknown as AsyncIterable<Uint8Array>) {
    await hasher.write(part);
    let at = 0;
    while (at < part.length) {
      if (filled === CHUNK_BYTES) {
        if (total + (part.length - at) > expected.bytes) {
          await body.cancel().catch(() => undefined);
          throw new ModelFileError(`${file} is more than ${expected.bytes} bytes, manifest says ${expected.bytes} (truncated or replaced?)`);
        }
        chunks.push(new Uint8Array(Math.min(CHUNK_BYTES, expected.bytes - chunks.length * CHUNK_BYTES)));
        filled = 0;
      }
      const chunk = chunks[chunks.length - 1];
      const n = Math.min(part.length - at, chunk.length - filled);
      chunk.set(part.subarray(at, at + n), filled);
      filled = filled + n === chunk.length ? CHUNK_BYTES : filled + n;
      at += n;
      total += n;
    }
  }
  await hasher.close();
  const sha256 = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  // The same words as verifyFile's, for a file read whole.
  if (total !== expected.bytes) throw new ModelFileError(`${file} is ${total} bytes, manifest says ${expected.bytes} (truncated or replaced?)`);
  if (sha256 !== expected.sha256) throw new ModelFileError(`${file} has sha256 ${sha256}, manifest says ${expected.sha256} (corrupt or from another conversion)`);
  return new ChunkedWeights(chunks, total, ranges.filter((r) => r.location.replace(/^\.\//, "") === expected.path.replace(/^\.\//, "")));
}
