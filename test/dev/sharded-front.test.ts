// A sharded model served as deployed (issue 14): the front Worker and two shard Workers (Durable
// Objects, each script its own isolate) in one `wrangler dev`, the model in local R2. A shard
// instance really aborted in the middle of a generation (the shard's test-only fault()) costs the
// client a delay and nothing else: the same token ids as the run without a kill.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index";
import { writeShardedConfigs } from "../../tools/sharded/config";
import { writeSyntheticCheckpoint } from "../../tools/synth/index";
import { uploadModel } from "../../tools/upload";
import { startWranglerDev, type DevServer } from "../browser/wrangler-dev";

const CACHE = path.resolve(import.meta.dirname, "../../.cache/test-dev");
const INSTANCE = "sharded-front-test";
let work: string;
let dev: DevServer;

beforeAll(async () => {
  const checkpoint = path.join(CACHE, "synthetic-front-l3");
  const modelDir = path.join(CACHE, "synthetic-front-l3-sharded");
  await writeSyntheticCheckpoint({ layers: 3, embd: 64, heads: 4, seed: 23, positions: 128, outDir: checkpoint });
  await convertCheckpoint(checkpoint, { dtype: "int8", outDir: modelDir, name: "synthetic-front-l3", shards: { count: 2 } });
  work = await mkdtemp(path.join(tmpdir(), "edge-gpt2-sharded-front-"));
  const persistTo = path.join(work, "state");
  const prefix = await uploadModel({ modelDir, prefix: "models/synthetic-front-l3", persistTo, log: () => {} });
  const [front, ...shards] = await writeShardedConfigs({ shards: 2, prefix, outDir: path.join(work, "configs"), faults: true });
  // The front names its shard instances, so the proxy reaches the same ones; no byte budget (workerd).
  const frontConfig = JSON.parse(await readFile(front, "utf8")) as { name: string; compatibility_date: string; vars: Record<string, string>; durable_objects: unknown };
  frontConfig.vars = { ...frontConfig.vars, SHARD_INSTANCE: INSTANCE, ISOLATE_MEMORY_BYTES: "0" };
  await writeFile(front, JSON.stringify(frontConfig, null, 2));
  const proxy = path.join(work, "configs", "proxy.json");
  await writeFile(proxy, JSON.stringify({
    name: "edge-gpt2-sharded-front-proxy",
    main: path.resolve(import.meta.dirname, "sharded-front-proxy/index.ts"),
    compatibility_date: frontConfig.compatibility_date,
    vars: { SHARD_INSTANCE: INSTANCE },
    services: [{ binding: "FRONT", service: frontConfig.name }],
    durable_objects: frontConfig.durable_objects,
  }, null, 2));
  dev = await startWranglerDev({ configs: [proxy, front, ...shards], persistTo, readyPath: "/health" });
}, 300_000);

afterAll(async () => {
  await dev?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const post = async (route: string, body: unknown) => {
  const response = await fetch(`${dev.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await response.json()) as Record<string, any>;
  if (!response.ok) throw new Error(`${route}: HTTP ${response.status}: ${JSON.stringify(json)}`);
  return json;
};

const REQUESTS = [
  { prompt: "The lighthouse keeper counted the steps", max_new_tokens: 24, cache: false },
  { prompt: "Once upon a time", max_new_tokens: 16, do_sample: true, seed: 9, num_return_sequences: 3, cache: false },
];

const tokenIds = async (body: unknown) => ((await post("/v1/generate", body)).generations as { token_ids: number[] }[]).map((g) => g.token_ids);

describe("a sharded model in wrangler dev (front + shard Durable Objects)", () => {
  it("a shard instance aborted mid-generation: the same token ids, the front rebuilt the rows", async () => {
    const expected = [];
    for (const body of REQUESTS) expected.push(await tokenIds(body));
    expect(expected[0][0]).toHaveLength(24);
    for (const [index, afterSteps] of [[1, 6], [0, 4]]) {
      await post(`/fault/${index}`, { afterSteps }); // dies at its afterSteps-th step from now: inside the next request
      const got = await Promise.all(REQUESTS.map((body) => tokenIds(body)));
      expect(got, `shard ${index} killed`).toEqual(expected);
    }
    const info = (await (await fetch(`${dev.url}/v1/info`)).json()) as { shards: { recoveries: number; list: { rows: number }[] } };
    expect(info.shards.recoveries).toBeGreaterThanOrEqual(2);
  });
});
