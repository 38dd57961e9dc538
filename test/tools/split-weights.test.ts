// Weights above the static-assets limit (25 MiB per file): the converter splits them into parts
// for the assets folder, the loader joins them, and `wrangler dev` starts and serves the model —
// generating exactly what the same conversion generates unsplit. The model is the fp32 conversion
// of a 4-layer, 128-wide synthetic checkpoint (≈ 28 MiB of weights, as in issue 15).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, rm, writeFile, cp } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { ASSET_FILE_LIMIT, DATA_FILE } from "../../tools/convert/write-model.js";
import { writeSyntheticCheckpoint } from "../../tools/synth/index.js";
import type { ModelManifest } from "../../src/model/manifest.js";
import { modelFiles } from "../../src/model/source.js";
import { parseManifest } from "../../src/model/verify.js";
import { EOS_TOKEN_ID, encode } from "../../src/tokenizer/index.js";
import { startWranglerDev, type DevServer } from "../browser/wrangler-dev.js";
import { greedy, loadModel } from "./ort-runner.js";
import { CACHE_DIR } from "./reference.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const work = `${CACHE_DIR}split-weights/`;
const checkpoint = `${work}checkpoint`;
const whole = `${work}whole-fp32`;
// Under model/dev/ (gitignored): inside the assets folder wrangler serves.
const ASSET_FOLDER = "dev/split-test-fp32";
const inAssets = path.join(ROOT, "model", ASSET_FOLDER);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const manifestOf = async (dir: string) => JSON.parse(await readFile(`${dir}/manifest.json`, "utf8")) as ModelManifest;

/** A Fetcher-shaped binding over a folder on disk, as the Worker's ASSETS binding serves one. */
function diskBinding(dir: string) {
  return {
    async fetch(url: string): Promise<Response> {
      const file = path.join(dir, decodeURIComponent(new URL(url).pathname));
      return readFile(file).then((bytes) => new Response(bytes), () => new Response("missing", { status: 404 }));
    },
  };
}

beforeAll(async () => {
  await rm(work, { recursive: true, force: true });
  await writeSyntheticCheckpoint({ layers: 4, embd: 128, heads: 4, seed: 11, outDir: checkpoint });
  await convertCheckpoint(checkpoint, { dtype: "fp32", outDir: whole, name: "split-test" });
  await convertCheckpoint(checkpoint, { dtype: "fp32", outDir: inAssets, name: "split-test", maxFileBytes: ASSET_FILE_LIMIT });
}, 120_000);

afterAll(async () => {
  await rm(inAssets, { recursive: true, force: true });
});

describe("weights split for static assets", () => {
  it("are parts of at most 25 MiB that join to exactly the unsplit file, listed with their sha256", async () => {
    const [plain, split] = [await manifestOf(whole), await manifestOf(inAssets)];
    const plainData = plain.files.find((f) => f.role === "weights")!;
    expect(plainData.bytes).toBeGreaterThan(ASSET_FILE_LIMIT); // the case that made wrangler refuse to start
    expect(plainData.parts).toBeUndefined();

    const splitData = split.files.find((f) => f.role === "weights")!;
    expect(splitData).toMatchObject({ path: DATA_FILE, bytes: plainData.bytes, sha256: plainData.sha256 });
    expect(splitData.parts!.map((p) => p.path)).toEqual(["model.onnx.data.part-000", "model.onnx.data.part-001"]);
    const joined = Buffer.concat(await Promise.all(splitData.parts!.map((p) => readFile(`${inAssets}/${p.path}`))));
    expect(joined.equals(await readFile(`${whole}/${DATA_FILE}`))).toBe(true);
    for (const part of splitData.parts!) {
      const bytes = await readFile(`${inAssets}/${part.path}`);
      expect(bytes.byteLength).toBeLessThanOrEqual(ASSET_FILE_LIMIT);
      expect(part).toEqual({ path: part.path, bytes: bytes.byteLength, sha256: sha256(bytes) });
    }
    // No file in the folder is over the limit, and the graph is the unsplit one byte for byte.
    const graph = await readFile(`${inAssets}/model.onnx`);
    expect(graph.byteLength).toBeLessThan(ASSET_FILE_LIMIT);
    expect(graph.equals(await readFile(`${whole}/model.onnx`))).toBe(true);
    expect(spawnSync("find", [inAssets, "-size", `+${ASSET_FILE_LIMIT}c`], { encoding: "utf8" }).stdout).toBe("");
  });

  it("read through a model source as the one file the graph names; a corrupt part is named", async () => {
    const files = modelFiles(`fetcher:DISK/${ASSET_FOLDER}`, (name) => (name === "DISK" ? diskBinding(path.join(ROOT, "model")) : undefined));
    await files.read("manifest.json");
    const data = await files.read(DATA_FILE);
    expect(data.byteLength).toBe((await manifestOf(whole)).files.find((f) => f.role === "weights")!.bytes);
    expect(Buffer.from(data).equals(await readFile(`${whole}/${DATA_FILE}`))).toBe(true);

    const corrupt = `${work}corrupt`;
    await cp(inAssets, corrupt, { recursive: true });
    const part = await readFile(`${corrupt}/model.onnx.data.part-001`);
    part[1000] ^= 1;
    await writeFile(`${corrupt}/model.onnx.data.part-001`, part);
    const broken = modelFiles("fetcher:DISK/corrupt", (name) => (name === "DISK" ? diskBinding(work) : undefined));
    await broken.read("manifest.json");
    await expect(broken.read(DATA_FILE)).rejects.toThrow(
      /^fetcher:DISK\/corrupt\/model\.onnx\.data\.part-001 has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/,
    );
  });

  it("a manifest whose parts do not add up to the file, or are malformed, is refused with the reason", async () => {
    const manifest = await manifestOf(inAssets);
    const check = (edit: (m: ModelManifest) => void) => {
      const copy = structuredClone(manifest);
      edit(copy);
      return () => parseManifest(new TextEncoder().encode(JSON.stringify(copy)), "assets:x");
    };
    expect(check(() => {})).not.toThrow();
    const weights = (m: ModelManifest) => m.files.find((f) => f.role === "weights")!;
    expect(check((m) => weights(m).parts!.pop())).toThrow(/^assets:x\/manifest\.json: model\.onnx\.data: its parts add up to \d+ bytes, not \d+; re-run/);
    expect(check((m) => (weights(m).parts![0].sha256 = "nope"))).toThrow(/model\.onnx\.data: parts are malformed/);
    expect(check((m) => (weights(m).parts![1].path = "../escape"))).toThrow(/parts are malformed/);
  });
});

describe("wrangler dev serving split weights from static assets", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startWranglerDev({ vars: { MODEL: `assets:${ASSET_FOLDER}` } });
  }, 120_000);
  afterAll(async () => server?.stop());

  it("starts (no 'Asset too large'), loads the joined weights and generates what the unsplit model generates", async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string; model: { source: string } };
    expect(health).toMatchObject({ status: "ok", model: { source: `assets:${ASSET_FOLDER}` } });

    const prompt = "The weights arrive in two parts";
    const response = await fetch(`${server.url}/v1/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt, max_new_tokens: 12, cache: false }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { generations: Array<{ token_ids: number[] }> };

    const ids = encode(prompt);
    const reference = await loadModel(whole); // onnxruntime-web in Node on the unsplit folder
    const greedyIds = (await greedy(reference, ids, 12)).slice(ids.length);
    const eos = greedyIds.indexOf(EOS_TOKEN_ID); // the Worker stops there and does not return it
    const expected = eos < 0 ? greedyIds : greedyIds.slice(0, eos);
    await reference.session.release();
    expect(body.generations[0].token_ids).toEqual(expected);
    expect(server.output()).not.toMatch(/Asset too large/);
  }, 120_000);
});
