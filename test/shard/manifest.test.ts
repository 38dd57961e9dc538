// Sharded manifests (issue 14) as the runtime checks them: a front names shards whose block ranges
// follow each other from 0 to n_layer and lists only its embedding file; a shard says which blocks
// it holds. Each mistake is refused with the field named; unsharded manifests are unchanged.
import { describe, expect, it } from "vitest";
import { MANIFEST_FORMAT, type ModelManifest } from "../../src/model/manifest";
import { parseManifest } from "../../src/model/verify";

const SHA = "a".repeat(64);
const base = {
  format: MANIFEST_FORMAT, name: "m", dtype: "int8", created_by: "test",
  architecture: { model_type: "gpt2", n_layer: 4, n_head: 2, n_embd: 16, n_positions: 64, vocab_size: 100, layer_norm_epsilon: 1e-5 },
  tokenizer: { name: "r50k_base", eos_token_id: 50256, bos_token_id: 50256 },
  io: { inputs: [], outputs: [], kv_padding: "right" },
  source: { checkpoint: "c", config_sha256: SHA, weights_sha256: SHA },
};
const front = {
  ...base,
  files: [{ path: "embedding.int8", bytes: 10, sha256: SHA, role: "embedding" }],
  shards: [
    { path: "shard-0", layers: [0, 2], manifest_sha256: SHA, bytes: 5 },
    { path: "shard-1", layers: [2, 4], manifest_sha256: SHA, bytes: 5 },
  ],
};
const shard = {
  ...base,
  files: [{ path: "model.onnx", bytes: 1, sha256: SHA, role: "graph" }, { path: "model.onnx.data", bytes: 1, sha256: SHA, role: "weights" }],
  shard: { index: 1, count: 2, layers: [2, 4] },
};
const parse = (manifest: unknown) => parseManifest(new TextEncoder().encode(JSON.stringify(manifest)), "r2:m");
const edit = <T>(manifest: T, change: (m: T) => void): T => {
  const copy = structuredClone(manifest);
  change(copy);
  return copy;
};

describe("sharded manifests", () => {
  it("accept a front naming its shards and a shard naming its blocks", () => {
    expect(parse(front).shards!.map((s) => s.layers)).toEqual([[0, 2], [2, 4]]);
    expect(parse(shard).shard).toEqual({ index: 1, count: 2, layers: [2, 4] });
  });

  it.each([
    ["a gap between shards", (m: typeof front) => (m.shards[1].layers = [3, 4]), /shards\[1\]\.layers starts at block 3, expected 2/],
    ["blocks missing at the end", (m: typeof front) => m.shards.pop(), /the shards hold blocks \[0, 2\), n_layer is 4/],
    ["an empty range", (m: typeof front) => (m.shards[0].layers = [0, 0]), /shards\[0\]\.layers \[0,0\] is not a block range/],
    ["a path that leaves the folder", (m: typeof front) => (m.shards[0].path = "../x"), /shards\[0\]\.path "\.\.\/x" is not a folder name/],
    ["a bad manifest hash", (m: typeof front) => (m.shards[0].manifest_sha256 = "xyz"), /shards\[0\]\.manifest_sha256 is not a sha256/],
    ["no embedding file", (m: typeof front) => (m.files = []), /needs its embedding file/],
    ["a graph of its own", (m: typeof front) => m.files.push({ path: "model.onnx", bytes: 1, sha256: SHA, role: "graph" }), /lists no graph of its own/],
    ["left-padded keys/values", (m: typeof front) => (m.io.kv_padding = "left"), /must be right-padded/],
    ["an empty shards list", (m: typeof front) => (m.shards = []), /shards must be a non-empty list/],
  ])("refuse a front with %s", (_, change, message) => {
    expect(() => parse(edit(front, change))).toThrow(message);
  });

  it.each([
    ["an index beyond its count", (m: typeof shard) => (m.shard.index = 2), /needs an index below a count/],
    ["blocks beyond n_layer", (m: typeof shard) => (m.shard.layers = [2, 5]), /shard\.layers \[2,5\] is not a block range \[from, to\) within n_layer 4/],
    ["no graph", (m: typeof shard) => (m.files = m.files.slice(1)), /no graph file listed/],
    ["both shard and shards", (m: typeof shard) => Object.assign(m, { shards: front.shards }), /lists both shards \(a front\) and shard \(one shard\)/],
  ])("refuse a shard with %s", (_, change, message) => {
    expect(() => parse(edit(shard, change))).toThrow(message);
  });

  it("leave unsharded manifests as they were: a graph is still required", () => {
    const plain = { ...base, files: shard.files } as unknown as ModelManifest;
    expect(parse(plain).shards).toBeUndefined();
    expect(() => parse({ ...plain, files: [] })).toThrow(/no graph file listed; re-run npm run model:convert/);
  });
});
