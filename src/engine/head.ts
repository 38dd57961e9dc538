// Where a model's tokens go in and its logits come out, chosen once per model from its manifest:
//   in-graph  the graph takes `input_ids` and returns `logits` (ready-made Optimum exports, fp32
//             conversions, int8 conversions made with --embedding graph);
//   kernel    the graph takes `inputs_embeds` and returns `hidden_states` (after ln_f); the int8
//             tied embedding / LM head runs in our WebAssembly SIMD kernel (./lm-head), which keeps
//             the one copy of the table and gives the in-graph int8 numbers bit for bit, without
//             onnxruntime's per-run weight repacking (about half of a decode step at GPT-2 size).
// ModelSession only asks its head for the token feed and the last positions' logits.
import type { ManifestFile, ModelManifest } from "../model/manifest";
import type { ModelFiles } from "../model/source";
import { verifyStream } from "../model/verify";
import { TiedEmbedding } from "./lm-head/index";
import { lmHeadModule } from "./lm-head/module";
import { ort } from "./ort";

export interface TokenHead {
  /** The graph input the step's tokens are fed through, and the output the logits come from. */
  readonly inputName: string;
  readonly outputName: string;
  /** Row-major ids [batch, seq] as that input. */
  feed(ids: number[], batch: number, seq: number): ort.Tensor;
  /** Each row's last-position logits from that output: views into one array, which the next
   * forward may overwrite (a caller keeping them past that copies them). */
  lastLogits(output: ort.Tensor, batch: number): Float32Array[];
  /** Logits of row `row`'s position `i` among its last `positions` (0 = oldest), on demand. */
  positionLogits(output: ort.Tensor, batch: number, positions: number): (row: number, i: number) => Float32Array;
  /** WebAssembly memory the head holds besides onnxruntime's (the kernel's table), for the memory budget. */
  readonly memoryBytes: number;
}

/** The head the manifest describes: the kernel when it lists an embedding file, else the graph's. */
export async function openHead(files: ModelFiles, manifest: ModelManifest): Promise<TokenHead> {
  const entry = manifest.files.find((f) => f.role === "embedding");
  return entry ? new KernelHead(await loadEmbedding(files, entry, manifest)) : new GraphHead(manifest.architecture.vocab_size);
}

class GraphHead implements TokenHead {
  readonly inputName = "input_ids";
  readonly outputName = "logits";
  readonly memoryBytes = 0;
  constructor(private readonly vocab: number) {}

  feed(ids: number[], batch: number, seq: number): ort.Tensor {
    return new ort.Tensor("int64", BigInt64Array.from(ids, (v) => BigInt(v)), [batch, seq]);
  }

  lastLogits(output: ort.Tensor, batch: number): Float32Array[] {
    // [batch, seq, vocab] or, for graphs that skip the LM head elsewhere, [batch, 1, vocab].
    return lastRows(output, batch, 1, this.vocab, "logits", "vocab_size");
  }

  positionLogits(output: ort.Tensor, batch: number, positions: number): (row: number, i: number) => Float32Array {
    const rows = lastRows(output, batch, positions, this.vocab, "logits", "vocab_size"); // computed by the graph
    return (row, i) => rows[row * positions + i];
  }
}

class KernelHead implements TokenHead {
  readonly inputName = "inputs_embeds";
  readonly outputName = "hidden_states";
  /** Every step's logits, reused: a fresh 200 KB per row and step is garbage that V8 leaves in
   * the isolate until its next scavenge (measured in workerd: 15 MiB over an 81-token generation). */
  private out = new Float32Array(0);
  constructor(private readonly kernel: TiedEmbedding) {}

  get memoryBytes(): number {
    return this.kernel.memoryBytes;
  }

  feed(ids: number[], batch: number, seq: number): ort.Tensor {
    return new ort.Tensor("float32", this.kernel.embed(ids), [batch, seq, this.kernel.hidden]);
  }

  lastLogits(output: ort.Tensor, batch: number): Float32Array[] {
    const rows = lastRows(output, batch, 1, this.kernel.hidden, "hidden_states", "n_embd");
    // Rows are contiguous already when they are all the graph returned (or a single row).
    const vocab = this.kernel.vocab;
    if (this.out.length < rows.length * vocab) this.out = new Float32Array(rows.length * vocab);
    const input = rows.length === 1 ? rows[0] : output.dims[1] === 1 ? (output.data as Float32Array) : concat(rows);
    const all = this.kernel.logits(input, this.out.subarray(0, rows.length * vocab));
    return rows.map((_, row) => all.subarray(row * vocab, (row + 1) * vocab));
  }

  positionLogits(output: ort.Tensor, batch: number, positions: number): (row: number, i: number) => Float32Array {
    const { hidden, vocab } = this.kernel;
    const rows = lastRows(output, batch, positions, hidden, "hidden_states", "n_embd");
    const done = new Map<number, Float32Array>();
    return (row, i) => {
      const index = row * positions + i;
      let logits = done.get(index);
      if (!logits) {
        // With the next position: two rows cost about one pass over the table, as one row does.
        const count = i + 1 < positions ? 2 : 1;
        const all = this.kernel.logits(new Float32Array(rows[index].buffer, rows[index].byteOffset, count * hidden));
        for (let k = 0; k < count; k++) done.set(index + k, all.subarray(k * vocab, (k + 1) * vocab));
        logits = done.get(index)!;
      }
      return logits;
    };
  }
}

/** Views of each row's last `last` positions in a [batch, positions, width] output, row-major. */
function lastRows(output: ort.Tensor, batch: number, last: number, width: number, name: string, field: string): Float32Array[] {
  const data = output.data as Float32Array;
  const positions = output.dims[1];
  if (output.dims.length !== 3 || output.dims[0] !== batch || output.dims[2] !== width) {
    throw new Error(`${name} is [${output.dims.join(", ")}], manifest says [${batch}, positions, ${width}] (${field} ${width})`);
  }
  if (last > positions) throw new Error(`${name} holds ${positions} positions per row, ${last} were asked for`);
  return Array.from({ length: batch * last }, (_, i) => {
    const row = Math.floor(i / last);
    const start = ((row + 1) * positions - last + (i % last)) * width;
    return data.subarray(start, start + width);
  });
}

function concat(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((sum, row) => sum + row.length, 0));
  let offset = 0;
  for (const row of rows) {
    out.set(row, offset);
    offset += row.length;
  }
  return out;
}

/**
 * The embedding file streamed straight into a kernel's memory, checked against its manifest entry
 * on the way (size and sha256): the table never exists anywhere else, not even while loading.
 * The file is int8 [vocab, n_embd] then fp32 [vocab] little-endian (tools/convert/embedding-file.ts).
 */
export async function loadEmbedding(files: ModelFiles, entry: ManifestFile, manifest: ModelManifest): Promise<TiedEmbedding> {
  const { vocab_size: vocab, n_embd: hidden } = manifest.architecture;
  const where = `${files.location}/${entry.path}`;
  if (entry.bytes !== vocab * hidden + vocab * 4) {
    throw new Error(`${where}: manifest lists ${entry.bytes} bytes, an embedding of [${vocab}, ${hidden}] int8 + ${vocab} scales is ${vocab * hidden + vocab * 4}`);
  }
  let kernel: TiedEmbedding;
  try {
    kernel = await TiedEmbedding.create(lmHeadModule, { vocab, hidden });
  } catch (error) {
    throw new Error(`${where}: the LM-head kernel cannot hold it: ${error instanceof Error ? error.message : String(error)}`);
  }
  const table = new Uint8Array(kernel.table.buffer, kernel.table.byteOffset, kernel.table.byteLength);
  const scales = new Uint8Array(kernel.scales.buffer, kernel.scales.byteOffset, kernel.scales.byteLength);
  await verifyStream(await files.stream(entry.path), entry, files.location, (chunk, offset) => {
    const inTable = Math.max(0, Math.min(chunk.length, table.length - offset));
    if (inTable > 0) table.set(chunk.subarray(0, inTable), offset);
    if (inTable < chunk.length) scales.set(chunk.subarray(inTable), offset + inTable - table.length);
  });
  return kernel;
}
