// Models delivered from R2 (MODEL = "r2:<prefix>", the MODEL_BUCKET binding; local R2 here): a
// converted model put into the bucket serves like the same files from any other source, and a
// corrupt, truncated or missing object is a 503 naming the file — fixed in the bucket, the next
// request recovers without a restart.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import app from "../../src/index";
import { envFor, generateJson, postJson, testFile } from "./helpers";

const MODEL = "synthetic-int8";
// Its MLPs run in the kernel: block 0's graph is layer-00.onnx (ln_f's is layer-01.onnx).
const GRAPH = "layer-00.onnx";
const DATA = `${GRAPH}.data`;
// Every file its manifest lists, then the manifest last, as model:upload does (embedding.int8 and
// mlp.int8 are streamed from R2 into the kernels' memories).
const FILES: string[] = [];
const original = new Map<string, Uint8Array>();

async function upload(prefix: string, replace: Record<string, Uint8Array> = {}): Promise<void> {
  for (const file of FILES) await env.MODEL_BUCKET.put(`${prefix}/${file}`, replace[file] ?? original.get(file)!);
}

interface HealthBody { status: string; reason?: string; next_attempt?: { at: string; in_ms: number } }

/** A failed load backs off (1 s after the first failure): fixing the files is seen at the next attempt. */
async function afterBackoff(prefix: string): Promise<void> {
  const down = await health(prefix);
  if (down.status === 200) return; // the backoff had already run out (a slow machine)
  expect(down.body.next_attempt!.in_ms).toBeLessThanOrEqual(1000);
  await new Promise((resolve) => setTimeout(resolve, down.body.next_attempt!.in_ms + 20));
}

async function health(prefix: string): Promise<{ status: number; body: HealthBody }> {
  const response = await app.request("/health", {}, envFor(`r2:${prefix}`));
  return { status: response.status, body: (await response.json()) as HealthBody };
}

const greedy = { prompt: "The quick brown fox", max_new_tokens: 8 };

beforeAll(async () => {
  const manifest = (await (await testFile(`${MODEL}/manifest.json`)).json()) as { files: { path: string }[] };
  FILES.push(...manifest.files.map((f) => f.path), "manifest.json");
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
    const corrupt = new Uint8Array(original.get(DATA)!);
    corrupt[corrupt.length >> 1] ^= 0x01;
    await upload("corrupt", { [DATA]: corrupt });
    const down = await health("corrupt");
    expect(down.status).toBe(503);
    expect(down.body.reason).toMatch(/^r2:corrupt\/layer-00\.onnx\.data has sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64} \(corrupt/);
    const generation = await postJson("/v1/generate", greedy, "r2:corrupt");
    expect(generation.status).toBe(503);
    expect(((await generation.json()) as { error: { type: string } }).error.type).toBe("model_unavailable");

    await env.MODEL_BUCKET.put(`corrupt/${DATA}`, original.get(DATA)!);
    await afterBackoff("corrupt");
    expect((await health("corrupt")).status).toBe(200);
    expect((await generateJson(greedy, "r2:corrupt")).generations[0].token_ids).toHaveLength(8);
  });

  it("a truncated object says how many bytes it has; a missing one says what to upload", async () => {
    const graph = original.get(GRAPH)!;
    await upload("truncated", { [GRAPH]: graph.subarray(0, graph.length - 100) });
    const truncated = await health("truncated");
    expect(truncated.status).toBe(503);
    expect(truncated.body.reason).toBe(`r2:truncated/${GRAPH} is ${graph.length - 100} bytes, manifest says ${graph.length} (truncated or replaced?)`);
    await env.MODEL_BUCKET.put(`truncated/${GRAPH}`, graph);
    await afterBackoff("truncated");
    expect((await health("truncated")).status).toBe(200);

    // The embedding file is streamed into the LM-head kernel, not read whole: short or long, it is caught.
    const table = original.get("embedding.int8")!;
    await upload("short-table", { "embedding.int8": table.subarray(0, table.length - 4) });
    expect((await health("short-table")).body.reason).toBe(`r2:short-table/embedding.int8 is ${table.length - 4} bytes, manifest says ${table.length} (truncated or replaced?)`);
    const longer = new Uint8Array(table.length + 4);
    longer.set(table);
    await upload("long-table", { "embedding.int8": longer });
    expect((await health("long-table")).body.reason).toBe(`r2:long-table/embedding.int8 is longer than the ${table.length} bytes the manifest says (replaced?)`);

    const missing = await health("never-uploaded");
    expect(missing.status).toBe(503);
    expect(missing.body.reason).toMatch(/^r2:never-uploaded\/manifest\.json: no object never-uploaded\/manifest\.json in R2 \(upload it: npm run model:upload\)/);
  });

  it("a failed load is not retried by every request: it backs off, and /health says when the next try is", async () => {
    await upload("backoff", { [DATA]: original.get(DATA)!.subarray(1) });
    let reads = 0;
    const bucket = { get: (key: string) => (reads++, env.MODEL_BUCKET.get(key)) };
    const backoffEnv = { ...env, MODEL: "r2:backoff", MODEL_BUCKET: bucket, MODEL_RETRY_MS: "60000" } as unknown as Env;
    const first = await app.request("/health", {}, backoffEnv);
    expect(first.status).toBe(503);
    const readsAfterFirst = reads;
    expect(readsAfterFirst).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) {
      const generation = await postJson("/v1/generate", greedy, "r2:backoff", {}, backoffEnv);
      expect(generation.status).toBe(503);
      const retryAfter = Number(generation.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(50);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    const again = (await (await app.request("/health", {}, backoffEnv)).json()) as HealthBody;
    expect(again.reason).toMatch(/layer-00\.onnx\.data is \d+ bytes/);
    expect(again.next_attempt!.in_ms).toBeGreaterThan(50_000);
    expect(Date.parse(again.next_attempt!.at)).toBeGreaterThan(Date.now() + 50_000);
    expect(reads).toBe(readsAfterFirst); // nothing was read (or hashed) again
  });
});
