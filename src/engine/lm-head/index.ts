// GPT-2's tied token embedding and LM head on one int8 table, in a small WebAssembly SIMD kernel
// (lm-head.wat) instead of onnxruntime: onnxruntime-web re-packs every int8 weight matrix on every
// run() and has no fast path below 4 rows, which made the LM head about half of a decode step.
//
// The table lives once, in this kernel's own WebAssembly memory, sized exactly for it plus a
// small workspace (`maxRows` rows of activations, and of logits for a slice of the vocabulary): int8 [vocab, hidden] with one fp32 scale per token (the converter's
// quantization, tools/convert/int8-format.ts). Both operations reproduce the converted graph's
// numbers bit for bit: `embed` is its Gather + dequantize, `logits` its per-row activation
// quantization + MatMulIntegerToFloat. A row's result depends on that row alone, so more rows than
// `maxRows` are simply computed in chunks.
//
// The caller brings the compiled module: in workerd `import module from "./lm-head.wasm"` (a
// CompiledWasm module, ./module.ts — workerd cannot compile WebAssembly from bytes), in Node
// `new WebAssembly.Module(bytes)` (tools/bench/lm-head-onnx.ts reads the built file).

export interface TiedEmbeddingShape {
  /** Rows of the table: tokens (50257 for GPT-2). */
  vocab: number;
  /** Columns: the model width (768 for GPT-2); a multiple of 16. */
  hidden: number;
  /** Rows per kernel call; more rows are processed in chunks of this many. Default 8. */
  maxRows?: number;
}

interface KernelExports {
  quantize_rows(x: number, rows: number, K: number, q: number, rowMax: number): void;
  gather_rows(ids: number, count: number, table: number, scales: number, K: number, out: number): void;
  matmul(q: number, rowMax: number, rows: number, w: number, scales: number, N: number, K: number, out: number, outStride: number): void;
}

const PAGE = 65536;
const DEFAULT_MAX_ROWS = 8;
/** Table rows are padded to this (zero rows, scale 0): the kernel works on 4 rows at a time. */
const ROW_TILE = 4;
/** The kernel reads 16 int8 columns per step. */
const COLUMN_TILE = 16;
/** Logits computed per kernel call, per row (a multiple of ROW_TILE): the output workspace. */
const OUT_COLUMNS = 4096;

export class TiedEmbedding {
  /** int8 [vocab, hidden], in the kernel's memory: write the table here (no other copy is kept). */
  readonly table: Int8Array;
  /** fp32 [vocab]: the dequantization scale of each row, also in the kernel's memory. */
  readonly scales: Float32Array;
  readonly vocab: number;
  readonly hidden: number;
  readonly maxRows: number;
  /** Bytes of WebAssembly memory this instance holds. */
  readonly memoryBytes: number;

  private constructor(
    private readonly kernel: KernelExports,
    private readonly memory: WebAssembly.Memory,
    private readonly layout: Layout,
    shape: Required<TiedEmbeddingShape>,
  ) {
    this.vocab = shape.vocab;
    this.hidden = shape.hidden;
    this.maxRows = shape.maxRows;
    this.memoryBytes = memory.buffer.byteLength;
    this.table = new Int8Array(memory.buffer, layout.table, shape.vocab * shape.hidden);
    this.scales = new Float32Array(memory.buffer, layout.scales, shape.vocab);
  }

  static async create(module: WebAssembly.Module, shape: TiedEmbeddingShape): Promise<TiedEmbedding> {
    const { vocab, hidden, maxRows = DEFAULT_MAX_ROWS } = shape;
    if (!Number.isInteger(vocab) || vocab < 1) throw new RangeError(`vocab must be a positive integer, got ${vocab}`);
    if (!Number.isInteger(hidden) || hidden < COLUMN_TILE || hidden % COLUMN_TILE !== 0) {
      throw new RangeError(`hidden must be a positive multiple of ${COLUMN_TILE}, got ${hidden}`);
    }
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${maxRows}`);
    const layout = planLayout(vocab, hidden, maxRows);
    const pages = Math.ceil(layout.end / PAGE);
    // initial = maximum: the memory never grows, so views into it stay valid.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    return new TiedEmbedding(instance.exports as unknown as KernelExports, memory, layout, { vocab, hidden, maxRows });
  }

  /** The dequantized rows of `ids`, fp32 [ids.length, hidden]: the graph's embedding lookup. */
  embed(ids: ArrayLike<number>, out = new Float32Array(ids.length * this.hidden)): Float32Array {
    const { hidden, maxRows, layout } = this;
    checkLength(out, ids.length * hidden, "embed output");
    const idSlots = new Int32Array(this.memory.buffer, layout.ids, maxRows);
    const rows = new Float32Array(this.memory.buffer, layout.x, maxRows * hidden);
    for (let start = 0; start < ids.length; start += maxRows) {
      const count = Math.min(maxRows, ids.length - start);
      for (let i = 0; i < count; i++) {
        const id = ids[start + i];
        if (!Number.isInteger(id) || id < 0 || id >= this.vocab) throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.vocab})`);
        idSlots[i] = id;
      }
      this.kernel.gather_rows(layout.ids, count, layout.table, layout.scales, hidden, layout.x);
      out.set(rows.subarray(0, count * hidden), start * hidden);
    }
    return out;
  }

  /** Logits fp32 [rows, vocab] of final hidden states fp32 [rows, hidden] (after ln_f). */
  logits(hiddenStates: Float32Array, out = new Float32Array((hiddenStates.length / this.hidden) * this.vocab)): Float32Array {
    const { hidden, vocab, maxRows, layout } = this;
    if (hiddenStates.length % hidden !== 0) throw new RangeError(`hidden states hold ${hiddenStates.length} values, not a multiple of ${hidden}`);
    const rows = hiddenStates.length / hidden;
    checkLength(out, rows * vocab, "logits output");
    const x = new Float32Array(this.memory.buffer, layout.x, maxRows * hidden);
    const logits = new Float32Array(this.memory.buffer, layout.out, maxRows * layout.outColumns);
    for (let start = 0; start < rows; start += maxRows) {
      const count = Math.min(maxRows, rows - start);
      x.set(hiddenStates.subarray(start * hidden, (start + count) * hidden));
      this.kernel.quantize_rows(layout.x, count, hidden, layout.q, layout.rowMax);
      // The vocabulary in slices of OUT_COLUMNS: each slice's table rows are read once for all
      // `count` rows, as a whole pass would, but the output workspace stays small (8 rows of the
      // whole vocabulary were 1.5 MiB of kernel memory held for good).
      for (let first = 0; first < layout.paddedVocab; first += layout.outColumns) {
        const columns = Math.min(layout.outColumns, layout.paddedVocab - first);
        this.kernel.matmul(layout.q, layout.rowMax, count, layout.table + first * hidden, layout.scales + first * 4, columns, hidden, layout.out, columns);
        const kept = Math.min(columns, vocab - first);
        for (let r = 0; r < count; r++) out.set(logits.subarray(r * columns, r * columns + kept), (start + r) * vocab + first);
      }
    }
    return out;
  }
}

/** Byte offsets in the kernel's memory; every region starts 16-byte aligned. */
interface Layout {
  paddedVocab: number;
  /** Logits per row that the output workspace holds (a slice of the vocabulary). */
  outColumns: number;
  table: number;
  scales: number;
  x: number;
  q: number;
  rowMax: number;
  ids: number;
  out: number;
  end: number;
}

function planLayout(vocab: number, hidden: number, maxRows: number): Layout {
  const paddedVocab = Math.ceil(vocab / ROW_TILE) * ROW_TILE;
  const align = (bytes: number) => Math.ceil(bytes / 16) * 16;
  let end = 0;
  const region = (bytes: number) => {
    const start = end;
    end += align(bytes);
    return start;
  };
  const table = region(paddedVocab * hidden);
  const scales = region(paddedVocab * 4);
  const x = region(maxRows * hidden * 4);
  const q = region(maxRows * hidden * 2);
  const rowMax = region(maxRows * 4);
  const ids = region(maxRows * 4);
  const outColumns = Math.min(OUT_COLUMNS, paddedVocab);
  const out = region(maxRows * outColumns * 4);
  return { paddedVocab, outColumns, table, scales, x, q, rowMax, ids, out, end };
}

function checkLength(array: { length: number }, expected: number, what: string): void {
  if (array.length !== expected) throw new RangeError(`${what} holds ${array.length} values, expected ${expected}`);
}
