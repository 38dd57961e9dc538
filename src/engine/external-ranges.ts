// The byte ranges of an ONNX graph's external-data file that onnxruntime will read: one per
// initializer stored outside the graph (TensorProto.external_data: location / offset / length).
// Read straight from the protobuf wire format: only the few fields on the path are decoded.
// Used by stream-weights.ts to drop each chunk of the weights once every range in it was copied.

export interface ExternalRange {
  location: string;
  offset: number;
  length: number;
}

// ModelProto.graph = 7; GraphProto.initializer = 5; TensorProto.external_data = 13;
// StringStringEntryProto.key = 1, .value = 2.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_EXTERNAL_DATA = 13;

type Field = { number: number; wire: number; start: number; end: number; value: number };

/** Iterates the top-level fields of one message (bytes[start, end)). */
function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= end) throw new Error("truncated protobuf varint");
      const byte = bytes[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (at < end) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { number, wire, start: at, end: at, value: varint() };
    else if (wire === 2) {
      const length = varint();
      yield { number, wire, start: at, end: at + length, value: length };
      at += length;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const decoder = new TextDecoder();

export function externalRanges(graph: Uint8Array): ExternalRange[] {
  const ranges: ExternalRange[] = [];
  for (const g of fields(graph, 0, graph.length)) {
    if (g.number !== MODEL_GRAPH || g.wire !== 2) continue;
    for (const init of fields(graph, g.start, g.end)) {
      if (init.number !== GRAPH_INITIALIZER || init.wire !== 2) continue;
      const entries = new Map<string, string>();
      for (const entry of fields(graph, init.start, init.end)) {
        if (entry.number !== TENSOR_EXTERNAL_DATA || entry.wire !== 2) continue;
        let key = "";
        let value = "";
        for (const kv of fields(graph, entry.start, entry.end)) {
          if (kv.wire !== 2) continue;
          const text = decoder.decode(graph.subarray(kv.start, kv.end));
          if (kv.number === 1) key = text;
          if (kv.number === 2) value = text;
        }
        entries.set(key, value);
      }
      if (!entries.has("location")) continue;
      ranges.push({ location: entries.get("location")!, offset: Number(entries.get("offset") ?? 0), length: Number(entries.get("length") ?? NaN) });
    }
  }
  return ranges;
}
