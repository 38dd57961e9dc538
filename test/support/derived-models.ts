// Test models derived from converted ones by editing their graph: the weights are copied as they
// are, the manifest gets the new graph's size and sha256 (and any other edit) and a name suffix.
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ModelManifest } from "../../src/model/manifest";
import { DataType, decodeModel, encodeModel } from "../../tools/convert/onnx-schema";

// protobufjs's decoded ModelProto (tools/convert/onnx-schema.ts): plain objects, edited in place.
type DecodedModel = ReturnType<typeof decodeModel>;

async function writeDerivedModel(
  fromDir: string,
  outDir: string,
  suffix: string,
  editGraph: (model: DecodedModel) => void,
  editManifest: (manifest: ModelManifest) => Partial<ModelManifest> = () => ({}),
): Promise<void> {
  const manifest = JSON.parse(await readFile(path.join(fromDir, "manifest.json"), "utf8")) as ModelManifest;
  const graphFile = manifest.files.find((f) => f.role === "graph")!;
  const model = decodeModel(await readFile(path.join(fromDir, graphFile.path)));
  editGraph(model);
  const bytes = encodeModel(model);
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, graphFile.path), bytes);
  for (const file of manifest.files.filter((f) => f.role === "weights")) await copyFile(path.join(fromDir, file.path), path.join(outDir, file.path));
  const files = manifest.files.map((f) => (f === graphFile ? { ...f, bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") } : f));
  const derived = { ...manifest, ...editManifest(manifest), name: `${manifest.name}-${suffix}`, files };
  await writeFile(path.join(outDir, "manifest.json"), JSON.stringify(derived, null, 2));
}

/**
 * A converted GPT-2 whose graph refuses an empty past, like exports traced or merged with a fixed
 * dummy past in mind. It reads position 0 of past_key_values.0.key (an out-of-bounds Gather when
 * the past is empty) and adds 0 × its sum to the logits — so with any non-empty past the outputs
 * are exactly those of the original model, and only the first step's past matters.
 */
export function writeNeedsPastModel(fromDir: string, outDir: string): Promise<void> {
  return writeDerivedModel(fromDir, outDir, "needs-past", ({ graph }) => {
    const producer = graph.node.find((n: { output: string[] }) => n.output.includes("logits"));
    producer.output = producer.output.map((o: string) => (o === "logits" ? "probe_logits" : o));
    const scalar = (name: string, dataType: number, raw: Uint8Array) => ({ name, data_type: dataType, dims: [], raw_data: raw });
    graph.initializer.push(
      scalar("probe_index", DataType.INT64, new Uint8Array(new BigInt64Array([0n]).buffer)),
      scalar("probe_zero", DataType.FLOAT, new Uint8Array(new Float32Array([0]).buffer)),
    );
    graph.node.push(
      { op_type: "Gather", input: ["past_key_values.0.key", "probe_index"], output: ["probe_first"], attribute: [{ name: "axis", type: 2, i: 2 }] },
      { op_type: "ReduceSum", input: ["probe_first"], output: ["probe_sum"], attribute: [{ name: "keepdims", type: 2, i: 0 }] },
      { op_type: "Mul", input: ["probe_sum", "probe_zero"], output: ["probe_nothing"] },
      { op_type: "Add", input: ["probe_logits", "probe_nothing"], output: ["logits"] },
    );
  });
}

/**
 * A converted GroupQueryAttention model without its new_key_values outputs, like a right-padded
 * graph from elsewhere: the runtime then reads the whole `present` every step, which is as long as
 * the past buffer it was fed (headroom included).
 */
export function writePresentOnlyModel(fromDir: string, outDir: string): Promise<void> {
  const isNew = (name: string) => name.startsWith("new_key_values.");
  return writeDerivedModel(
    fromDir,
    outDir,
    "present-only",
    ({ graph }) => {
      graph.output = graph.output.filter((o: { name: string }) => !isNew(o.name));
      graph.node = graph.node.filter((n: { output: string[] }) => !n.output.some(isNew));
    },
    (manifest) => ({ io: { ...manifest.io, outputs: manifest.io.outputs.filter((name) => !isNew(name)) } }),
  );
}
