// model:upload: checks the folder against its manifest before sending anything, then puts it into
// (local) R2 with the real `wrangler r2 object put`, manifest last. Read back through wrangler's
// own local bindings (getPlatformProxy), as `wrangler dev` would see the bucket.
import { createHash } from "node:crypto";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { getPlatformProxy } from "wrangler";
import { beforeAll, describe, expect, it } from "vitest";
import { planUpload, uploadModel } from "../../tools/upload.js";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { CACHE_DIR } from "./reference.js";

const root = `${CACHE_DIR}upload/`;
const modelDir = `${root}tiny-int8`;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  await rm(root, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ layers: 1, embd: 16, heads: 2, seed: 5, positions: 32, vocab: 300, outDir: `${root}checkpoint` });
  await convertCheckpoint(`${root}checkpoint`, { dtype: "int8", outDir: modelDir, name: "upload-test" });
}, 120_000); // the int8 conversion runs a calibration pass

describe("model:upload", () => {
  it("refuses a folder whose files do not match the manifest, before uploading anything", async () => {
    await mkdir(`${root}broken`, { recursive: true });
    await cp(modelDir, `${root}broken`, { recursive: true });
    // (int8's default layout: a graph per block, layer-00.onnx here, and ln_f's)
    const data = await readFile(`${root}broken/layer-00.onnx.data`);
    data[0] ^= 1;
    await writeFile(`${root}broken/layer-00.onnx.data`, data);
    await expect(planUpload({ modelDir: `${root}broken` })).rejects.toThrow(/layer-00\.onnx\.data does not match its sha256 in manifest\.json/);
    await rm(`${root}broken/layer-00.onnx`);
    await expect(planUpload({ modelDir: `${root}broken` })).rejects.toThrow(/broken\/layer-00\.onnx is missing/);
  });

  it("puts every file into local R2 under the prefix, the manifest after all the files it lists", async () => {
    const persistTo = `${root}state`;
    const { commands } = await planUpload({ modelDir, prefix: "models/tiny", persistTo });
    expect(commands.map((c) => `${c[2]} ${c[3]}`)).toEqual([
      "delete edge-gpt2-models/models/tiny/manifest.json",
      // int8's default layout: block 0's graph, ln_f's, the MLP kernel's weights, the LM-head kernel's table
      "put edge-gpt2-models/models/tiny/layer-00.onnx",
      "put edge-gpt2-models/models/tiny/layer-00.onnx.data",
      "put edge-gpt2-models/models/tiny/layer-01.onnx",
      "put edge-gpt2-models/models/tiny/layer-01.onnx.data",
      "put edge-gpt2-models/models/tiny/mlp.int8",
      "put edge-gpt2-models/models/tiny/embedding.int8",
      "put edge-gpt2-models/models/tiny/manifest.json",
    ]);
    await uploadModel({ modelDir, prefix: "models/tiny", persistTo, log: () => {} });

    // wrangler keeps local state under <persist-to>/v3; getPlatformProxy takes that folder.
    const proxy = await getPlatformProxy<Env>({ configPath: "wrangler.toml", persist: { path: `${persistTo}/v3` } });
    try {
      const uploaded = new Map<string, number>();
      const files = ["layer-00.onnx", "layer-00.onnx.data", "layer-01.onnx", "layer-01.onnx.data", "mlp.int8", "embedding.int8"];
      for (const name of [...files, "manifest.json"]) {
        const object = await proxy.env.MODEL_BUCKET.get(`models/tiny/${name}`);
        expect(object, name).not.toBeNull();
        expect(sha256(new Uint8Array(await object!.arrayBuffer()))).toBe(sha256(await readFile(`${modelDir}/${name}`)));
        uploaded.set(name, object!.uploaded.getTime());
      }
      expect(uploaded.get("manifest.json")).toBeGreaterThanOrEqual(Math.max(...files.map((name) => uploaded.get(name)!)));
    } finally {
      await proxy.dispose();
    }
  });

  it("puts a sharded model's shard folders first, each shard's manifest after its files, the front's manifest last", async () => {
    const shardedDir = `${root}sharded`;
    await writeSyntheticCheckpoint({ layers: 2, embd: 16, heads: 2, seed: 6, positions: 32, vocab: 300, outDir: `${root}checkpoint-2` });
    await convertCheckpoint(`${root}checkpoint-2`, { dtype: "int8", outDir: shardedDir, shards: { count: 2 } });
    const { commands } = await planUpload({ modelDir: shardedDir, prefix: "s" });
    expect(commands.map((c) => `${c[2]} ${c[3]}`)).toEqual([
      "delete edge-gpt2-models/s/manifest.json",
      // each shard: its block's graph (and ln_f's on the last) and its block's MLP weights
      "put edge-gpt2-models/s/shard-0/layer-00.onnx",
      "put edge-gpt2-models/s/shard-0/layer-00.onnx.data",
      "put edge-gpt2-models/s/shard-0/mlp.int8",
      "put edge-gpt2-models/s/shard-0/manifest.json",
      "put edge-gpt2-models/s/shard-1/layer-01.onnx",
      "put edge-gpt2-models/s/shard-1/layer-01.onnx.data",
      "put edge-gpt2-models/s/shard-1/layer-02.onnx",
      "put edge-gpt2-models/s/shard-1/layer-02.onnx.data",
      "put edge-gpt2-models/s/shard-1/mlp.int8",
      "put edge-gpt2-models/s/shard-1/manifest.json",
      "put edge-gpt2-models/s/embedding.int8",
      "put edge-gpt2-models/s/manifest.json",
    ]);
    // A shard folder from another conversion is refused before anything is sent.
    const other = JSON.parse(await readFile(`${shardedDir}/shard-1/manifest.json`, "utf8"));
    await writeFile(`${shardedDir}/shard-1/manifest.json`, JSON.stringify({ ...other, name: "another" }));
    await expect(planUpload({ modelDir: shardedDir })).rejects.toThrow(/shard-1\/manifest\.json is not the one .*manifest\.json names: re-run the conversion/);
  });
});
