// Models delivered from R2 (MODEL = "r2:<prefix>", the MODEL_BUCKET binding; local R2 here): a
// converted model put into the bucket serves like the same files from any other source, and a
// corrupt, truncated or missing object is a 503 naming the file — fixed in the bucket, the next
// request recovers without a restart.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import app from "../../src/index";
import { envFor, generateJson, postJson, testFile } from "./helpers";

const MODEL = "synthetic-int8";
const FILES = ["model.onnx", "model.onnx.data", "manifest.json"]; // manifest last, as model:upload does
const original = new Map<string, Uint8Array>();

async function upload(prefix: string, replace: Record<string, Uint8Array> = {}): Promise<void> {
  for (const file of FILES) await env.MODEL_BUCKET.put(`${prefix}/${file}`, replace[file] ?? original.get(file)!);
}

async function health(prefix: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await app.request("/health", {}, envFor(`r2:${prefix}`));
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

const greedy = { prompt: "The quick brown fox", max_new_tokens: 8 };

beforeAll(async () => {
  for (const file of FILES) original.set(file, new Uint8Array(await (await testFile(`${MODEL}/${file}`)).arrayBuffer()));
});

describe("MODEL = r2:<prefix>", () => {
  it("serves a converted model from the bucket, token for token like the same files elsewhere", async () => {
    await upload("models/synthetic");
    const fromR2 = await generateJson(greedy, "r2:models/synthetic");
    expect(fromR2.model).toBe("synthetic-int8");
    expect(fromR2.generations[0].token_ids).toHaveLength(8);
    expect((await health("models/synthetic")).body.status).toBe("ok");
    const elsewhere = await generateJson(greedy, MODEL);
    expect(fromR2.generations[0].token_ids).toEqual(elsewhere.generations[0].token_ids);
  });

  it("a corrupt object is a 503 naming the file and its sha256; fixed in the bucket, it recovers", async () => {
    const corrupt = new Uint8Array(original.get("model.onnx.data")!);
    corrupt[corrupt.length >> 1] ^= 0x01;
    await upload("corrupt", { "model.onnx.data": corrupt });
    const down = await health("corrupt");
    expect(down.status).toBe(503);
    expect(down.body.reason).toMatch(/^r2:corrupt\/model\.onnx\.data has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/);
    const generation = await postJson("/v1/generate", greedy, "r2:corrupt");
    expect(generation.status).toBe(503);
    expect(((await generation.json()) as { error: { type: string } }).error.type).toBe("model_unavailable");

    await env.MODEL_BUCKET.put("corrupt/model.onnx.data", original.get("model.onnx.data")!);
    expect((await health("corrupt")).status).toBe(200);
    expect((await generateJson(greedy, "r2:corrupt")).generations[0].token_ids).toHaveLength(8);
  });

  it("a truncated object says how many bytes it has; a missing one says what to upload", async () => {
    const graph = original.get("model.onnx")!;
    await upload("truncated", { "model.onnx": graph.subarray(0, graph.length - 100) });
    const truncated = await health("truncated");
    expect(truncated.status).toBe(503);
    expect(truncated.body.reason).toBe(`r2:truncated/model.onnx is ${graph.length - 100} bytes, manifest says ${graph.length} (truncated or replaced?)`);
    await env.MODEL_BUCKET.put("truncated/model.onnx", graph);
    expect((await health("truncated")).status).toBe(200);

    const missing = await health("never-uploaded");
    expect(missing.status).toBe(503);
    expect(missing.body.reason).toMatch(/^r2:never-uploaded\/manifest\.json: no object never-uploaded\/manifest\.json in R2 \(upload it: npm run model:upload\)/);
  });
});
