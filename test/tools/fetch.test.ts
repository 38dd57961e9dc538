// model:fetch against a local stand-in for the Hugging Face hub (same URL layout and headers): a
// checkpoint download that survives a dropped connection, Range semantics (206 / 200 / 416), a
// sha256 mismatch refused, a missing repo explained, and an Optimum / transformers.js ONNX export.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadFile } from "../../tools/fetch/download.js";
import { fetchModel, type FetchOptions } from "../../tools/fetch/index.js";
import { NetworkError } from "../../tools/fetch/network.js";
import { pickOnnxExport } from "../../tools/fetch/onnx-export.js";
import type { Progress } from "../../tools/fetch/progress.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import { startFakeHub, type FakeHub } from "./fetch-hub-server.js";
import { CACHE_DIR, REFERENCE_DIR } from "./reference.js";

const ROOT = resolve(import.meta.dirname, "../..");
const TOKEN = "hf_test_token";
const REPO = "synthetic/tiny-gpt2";
const root = `${CACHE_DIR}fetch/`;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const quiet: Progress = { start() {}, update() {}, finish() {}, note() {} };

let hub: FakeHub;
let checkpoint: Map<string, Uint8Array>;

function options(name: string, extra: Partial<FetchOptions> = {}): FetchOptions {
  return {
    model: REPO, dtype: "int8", endpoint: hub.endpoint, token: TOKEN, cacheDir: `${root}${name}/cache`, outDir: `${root}${name}/out`,
    progress: () => quiet, log: () => {}, ...extra,
  };
}

beforeAll(async () => {
  await rm(root, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ layers: 1, embd: 32, heads: 2, seed: 3, positions: 64, vocab: 500, outDir: `${root}source` });
  checkpoint = new Map();
  for (const file of await readdir(`${root}source`)) checkpoint.set(file, await readFile(`${root}source/${file}`));
  hub = await startFakeHub({ token: TOKEN });
  hub.repos.set(REPO, checkpoint);
});

afterAll(() => hub?.close());

describe("model:fetch of a checkpoint", () => {
  it("downloads with the hub's layout, resumes a dropped connection, verifies, converts; a rerun uses the cache", async () => {
    hub.faults.dropOnce.add("model.safetensors");
    hub.log.length = 0;
    const result = await fetchModel(options("checkpoint"));

    const weights = result.files.find((f) => f.path === "model.safetensors")!;
    expect(weights.status).toBe("downloaded");
    expect(weights.resumedFrom).toHaveLength(1);
    const resumedAt = weights.resumedFrom[0];
    expect(resumedAt).toBeGreaterThan(0);
    expect(weights.sha256).toBe(sha256(checkpoint.get("model.safetensors")!));
    expect(result.files.map((f) => f.path).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);

    // The second CDN request asked for exactly the missing bytes; the token never left the hub.
    const cdnGets = hub.log.filter((r) => r.origin === "cdn" && r.method === "GET");
    expect(cdnGets.map((r) => r.range)).toEqual([null, `bytes=${resumedAt}-`]);
    expect(cdnGets.every((r) => r.authorization === null)).toBe(true);
    expect(hub.log.filter((r) => r.origin === "hub").every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(hub.log.some((r) => r.path.startsWith(`/${REPO}/resolve/main/model.safetensors`))).toBe(true);

    expect(await readFile(`${root}checkpoint/cache/model.safetensors`)).toEqual(Buffer.from(checkpoint.get("model.safetensors")!));
    expect(existsSync(`${root}checkpoint/cache/model.safetensors.incomplete`)).toBe(false);
    const manifest = JSON.parse(await readFile(`${root}checkpoint/out/manifest.json`, "utf8"));
    expect(manifest).toMatchObject({ name: "tiny-gpt2", dtype: "int8", architecture: { n_layer: 1, n_embd: 32, vocab_size: 500 } });
    expect(manifest.source.weights_sha256).toBe(weights.sha256);

    hub.log.length = 0;
    const again = await fetchModel(options("checkpoint"));
    expect(again.files.map((f) => f.status)).toEqual(["cached", "cached", "cached"]);
    expect(hub.log.filter((r) => r.origin === "cdn")).toEqual([]);
  });

  it("refuses a file whose sha256 differs from what the hub announced, and keeps nothing of it", async () => {
    hub.faults.corrupt.add("model.safetensors");
    try {
      await expect(fetchModel(options("corrupt"))).rejects.toThrow(/model\.safetensors: sha256 [0-9a-f]{64} does not match the hub's [0-9a-f]{64}; refused/);
    } finally {
      hub.faults.corrupt.clear();
    }
    expect(existsSync(`${root}corrupt/cache/model.safetensors`)).toBe(false);
    expect(existsSync(`${root}corrupt/cache/model.safetensors.incomplete`)).toBe(false);
    expect(existsSync(`${root}corrupt/out/manifest.json`)).toBe(false);
  });

  it("says clearly when the repository does not exist, or the token is missing", async () => {
    await expect(fetchModel(options("missing", { model: "nobody/no-such-model" }))).rejects.toThrow(
      /^repository nobody\/no-such-model not found at http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\): check the name/,
    );
    await expect(fetchModel(options("missing", { token: "" }))).rejects.toThrow(/not found .*HTTP 401.*set HF_TOKEN/);
  });
});

describe("resumable download: Range semantics", () => {
  const file = "model.safetensors";
  const bytes = () => checkpoint.get(file)!;
  const download = (dest: string) =>
    downloadFile({
      dest, size: bytes().byteLength, sha256: sha256(bytes()), progress: quiet,
      source: async () => ({ url: `${hub.endpoint}/${REPO}/resolve/main/${file}`, headers: { authorization: `Bearer ${TOKEN}` } }),
    });

  async function partial(name: string, content: Uint8Array): Promise<string> {
    await mkdir(`${root}range`, { recursive: true });
    const dest = `${root}range/${name}`;
    await rm(dest, { force: true });
    await writeFile(`${dest}.incomplete`, content);
    return dest;
  }

  it("206: a partial file from an earlier run is continued from its last byte", async () => {
    const dest = await partial("continued", bytes().subarray(0, 1000));
    hub.log.length = 0;
    expect((await download(dest)).resumedFrom).toEqual([1000]);
    expect(hub.log.find((r) => r.origin === "cdn")?.range).toBe("bytes=1000-");
    expect(sha256(await readFile(dest))).toBe(sha256(bytes()));
  });

  it("200: a server that ignores Range gets the whole file written from byte 0", async () => {
    const dest = await partial("restarted", new Uint8Array(1000).fill(7)); // garbage that must not survive
    hub.faults.ignoreRange = true;
    try {
      expect((await download(dest)).resumedFrom).toEqual([]);
    } finally {
      hub.faults.ignoreRange = false;
    }
    expect(sha256(await readFile(dest))).toBe(sha256(bytes()));
  });

  it("416: a partial file that is already whole is verified and kept; one longer than the file is restarted", async () => {
    const whole = await partial("whole", bytes());
    hub.log.length = 0;
    await download(whole);
    expect(hub.log.filter((r) => r.origin === "cdn").map((r) => r.range)).toEqual([`bytes=${bytes().byteLength}-`]);
    expect(sha256(await readFile(whole))).toBe(sha256(bytes()));

    const longer = await partial("longer", new Uint8Array(bytes().byteLength + 10));
    await download(longer);
    expect(sha256(await readFile(longer))).toBe(sha256(bytes()));
  });
});

describe("model:fetch of an Optimum / transformers.js ONNX export", () => {
  it("picks the file for the dtype and writes a model folder with a manifest the runtime serves", async () => {
    const exportDir = join(REFERENCE_DIR, "tiny-a-onnx");
    const files = new Map<string, Uint8Array>();
    for (const path of ["config.json", "generation_config.json", "onnx/model.onnx", "onnx/model_quantized.onnx"]) {
      files.set(path, await readFile(join(exportDir, path)));
    }
    hub.repos.set("onnx-community/tiny-a", files);
    const result = await fetchModel(options("onnx", { model: "onnx-community/tiny-a", dtype: "int8" }));
    expect(result.format).toBe("onnx");
    expect(result.files.map((f) => f.path)).toEqual(["config.json", "generation_config.json", "onnx/model_quantized.onnx"]);
    const manifest = JSON.parse(await readFile(`${root}onnx/out/manifest.json`, "utf8"));
    const graph = files.get("onnx/model_quantized.onnx")!;
    expect(manifest.files).toEqual([{ path: "model_quantized.onnx", bytes: graph.byteLength, sha256: sha256(graph), role: "graph" }]);
    expect(manifest.architecture).toMatchObject({ n_layer: 2, n_head: 4, n_embd: 64, n_positions: 1024, vocab_size: 50257 });
    // Read from the graph itself, not assumed.
    expect(manifest.io.inputs).toEqual(["input_ids", "attention_mask", "position_ids",
      "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"]);
    expect(manifest.io.outputs).toEqual(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"]);
    expect(await readFile(`${root}onnx/out/model_quantized.onnx`)).toEqual(Buffer.from(graph));
  });

  it("prefers the file of the requested dtype and takes its external data along", () => {
    const merged = ["onnx/decoder_model_merged.onnx", "onnx/decoder_model_merged.onnx_data", "onnx/decoder_model_merged.onnx_data_1",
      "onnx/decoder_model_merged_quantized.onnx", "onnx/decoder_model.onnx", "onnx/decoder_with_past_model.onnx"];
    expect(pickOnnxExport(merged, "fp32")).toEqual({
      graph: "onnx/decoder_model_merged.onnx", externalData: ["onnx/decoder_model_merged.onnx_data", "onnx/decoder_model_merged.onnx_data_1"],
    });
    expect(pickOnnxExport(merged, "int8")).toEqual({ graph: "onnx/decoder_model_merged_quantized.onnx", externalData: [] });
    expect(pickOnnxExport(["onnx/model.onnx", "onnx/model_int8.onnx", "onnx/model_q4.onnx"], "int8")?.graph).toBe("onnx/model_int8.onnx");
    expect(pickOnnxExport(["onnx/model_q4.onnx", "model.safetensors"], "int8")).toBeNull();
  });
});

describe("model:fetch without network", () => {
  // A loopback port nothing listens on: the connection is refused at once, as with no network.
  const refusedEndpoint = async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    return `http://127.0.0.1:${port}`;
  };

  it("names the URL, the cause and what to do instead of a bare 'fetch failed'", async () => {
    const endpoint = await refusedEndpoint();
    const error = await fetchModel(options("offline", { endpoint })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).code).toBe("ECONNREFUSED");
    expect((error as Error).message).toBe(
      `cannot reach ${endpoint}/api/models/${REPO}/tree/main?recursive=true — ECONNREFUSED: the connection was refused ` +
        "(nothing listens at that address and port). Check the network connection and proxy settings, and HF_ENDPOINT " +
        "if you set it; without network, convert a checkpoint you already have: npm run model:convert -- <checkpoint-dir>",
    );
  });

  it("the CLI prints that message (and exits 1) for HF_ENDPOINT pointing nowhere", async () => {
    const endpoint = await refusedEndpoint();
    const run = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["tools/fetch.ts", "gpt2", "--cache", `${root}offline-cli`], {
      cwd: ROOT, env: { ...process.env, HF_ENDPOINT: endpoint }, encoding: "utf8", timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(new RegExp(
      `^model:fetch failed: cannot reach ${endpoint}/api/models/openai-community/gpt2/tree/main\\?recursive=true — ECONNREFUSED: .*` +
        "npm run model:convert -- <checkpoint-dir>$",
    ));
    expect(run.stderr).not.toMatch(/^fetch failed$/m);
  });
});
