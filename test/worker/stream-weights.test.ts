// Weights streamed into onnxruntime without a second full copy (src/engine/stream-weights.ts):
// every initializer range the graph names reads back exactly the file's bytes, every chunk is
// released once the session has its copy, and a truncated or corrupt file is refused before
// onnxruntime sees a byte — with the same words as a file read whole.
import { describe, expect, it } from "vitest";
import { externalRanges } from "../../src/engine/external-ranges";
import { streamWeights } from "../../src/engine/stream-weights";
import { testFile } from "./helpers";

const MODEL = "synthetic-int8";
const bytesOf = async (path: string) => new Uint8Array(await (await testFile(`${MODEL}/${path}`)).arrayBuffer());
const streamOf = (bytes: Uint8Array, piece = 4093) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += piece) controller.enqueue(bytes.slice(at, at + piece));
      controller.close();
    },
  });

describe("streamWeights", () => {
  it("serves every range of the graph exactly, then releases every chunk", async () => {
    const manifest = JSON.parse(new TextDecoder().decode(await bytesOf("manifest.json"))) as { files: { path: string; bytes: number; sha256: string; role: string }[] };
    const entry = manifest.files.find((f) => f.role === "weights")!; // block 0's (its MLPs run in the kernel)
    const whole = await bytesOf(entry.path);
    const ranges = externalRanges(await bytesOf(entry.path.replace(/\.data$/, "")));
    expect(ranges.length).toBeGreaterThan(5);
    const weights = await streamWeights(streamOf(whole), entry, ranges, "test");
    expect(weights.byteLength).toBe(whole.byteLength);
    for (const range of ranges) {
      const end = Number.isFinite(range.length) ? range.offset + range.length : whole.byteLength;
      expect(weights.subarray(range.offset, end)).toEqual(whole.subarray(range.offset, end));
    }
    // Only the ranges are held (padding between them is not), each range one buffer: a read is a view.
    expect(weights.heldBytes).toBeLessThanOrEqual(whole.byteLength);
    expect(weights.heldBytes).toBeGreaterThan(whole.byteLength * 0.95);
    weights.release();
    expect(weights.droppedBytes).toBe(weights.heldBytes);
    const first = ranges.reduce((a, b) => (a.offset < b.offset ? a : b));
    expect(() => weights.subarray(first.offset, first.offset + 16)).toThrow(/already released/);
    expect(() => weights.subarray(whole.byteLength - 1, whole.byteLength + 1)).toThrow(/not an initializer range/);
  });

  it("refuses a truncated or corrupt file before onnxruntime reads it, naming the file", async () => {
    const manifest = JSON.parse(new TextDecoder().decode(await bytesOf("manifest.json"))) as { files: { path: string; bytes: number; sha256: string; role: string }[] };
    const entry = manifest.files.find((f) => f.role === "weights")!;
    const whole = await bytesOf(entry.path);
    await expect(streamWeights(streamOf(whole.subarray(0, whole.length - 10)), entry, [], "src")).rejects.toThrow(
      `src/${entry.path} is ${whole.length - 10} bytes, manifest says ${whole.length} (truncated or replaced?)`,
    );
    const corrupt = whole.slice();
    corrupt[corrupt.length >> 1] ^= 1;
    await expect(streamWeights(streamOf(corrupt), entry, [], "src")).rejects.toThrow(/has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/);
    const longer = new Uint8Array(whole.length + 5);
    longer.set(whole);
    await expect(streamWeights(streamOf(longer), entry, [], "src")).rejects.toThrow(/is longer than the \d+ bytes the manifest says/);
  });
});
