// `npm run deploy:sharded -- <model> --dry-run`, as a user without an account would try it: every
// Worker (each shard script and the front) is bundled by `wrangler deploy --dry-run` from the
// written configs and checked, then the commands are printed in the order that never leaves the
// front pointing at something missing — the model (front manifest last), the shards, the front.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../tools/convert/index.js";
import { CACHE_DIR, REFERENCE_DIR } from "./reference.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const MODEL = `${CACHE_DIR}deploy-tiny-a-sharded`;
const PREFIX = "test-deploy-dry-run";
const deploy = (...args: string[]) =>
  spawnSync(path.join(ROOT, "node_modules/.bin/tsx"), ["tools/deploy-sharded.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 240_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });

describe("deploy:sharded --dry-run", () => {
  let result: ReturnType<typeof deploy>;
  beforeAll(async () => {
    await rm(MODEL, { recursive: true, force: true });
    await convertCheckpoint(`${REFERENCE_DIR}/tiny-a`, { dtype: "int8", outDir: MODEL, shards: { count: 2 } });
    result = deploy(MODEL, "--prefix", PREFIX, "--dry-run");
  }, 300_000);

  it("bundles the front and every shard Worker with wrangler, then prints the commands in deploy order", () => {
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    const bundled = lines.filter((l) => l.startsWith("bundled ")).map((l) => l.split(":")[0]);
    expect(bundled).toEqual(["bundled front", "bundled shard-0", "bundled shard-1"]);
    const commands = lines.filter((l) => l.startsWith("wrangler "));
    const puts = commands.filter((c) => c.startsWith("wrangler r2 object put"));
    expect(puts.length).toBeGreaterThan(2);
    expect(puts.every((c) => c.includes("--remote"))).toBe(true);
    expect(puts.at(-1)).toContain(`edge-gpt2-models/${PREFIX}/manifest.json`); // the front's manifest last
    const deploys = commands.filter((c) => c.startsWith("wrangler deploy"));
    expect(deploys.map((c) => path.basename(c.split(" -c ")[1]))).toEqual(["shard-0.json", "shard-1.json", "front.json"]);
    expect(commands.indexOf(deploys[0])).toBeGreaterThan(commands.indexOf(puts.at(-1)!));
    expect(result.stdout).not.toMatch(/^deployed /m); // nothing was run
  });

  it("bundles each shard with onnxruntime's WebAssembly, within the size limit, and no model file", () => {
    for (const name of ["shard-0", "shard-1"]) {
      const line = result.stdout.split("\n").find((l) => l.startsWith(`bundled ${name}:`))!;
      const gzipMiB = Number(/([\d.]+) MiB gzip/.exec(line)![1]);
      expect(gzipMiB).toBeGreaterThan(2); // onnxruntime's .wasm is in it
      expect(gzipMiB).toBeLessThan(10);
    }
  });

  it("writes the front's Durable Object bindings to the shard scripts it deploys first", () => {
    const dir = path.join(ROOT, ".wrangler/sharded", `deploy-${PREFIX}`);
    const front = JSON.parse(readFileSync(path.join(dir, "front.json"), "utf8"));
    const shards = [0, 1].map((i) => JSON.parse(readFileSync(path.join(dir, `shard-${i}.json`), "utf8")));
    expect(front.vars.MODEL).toBe(`r2:${PREFIX}`);
    expect(front.durable_objects.bindings.map((b: { script_name: string }) => b.script_name)).toEqual(shards.map((s) => s.name));
    for (const shard of shards) expect(shard.vars.MODEL).toBe(`r2:${PREFIX}`);
  });

  it("refuses a folder that is not a sharded model, before bundling anything", () => {
    const plain = deploy(`${REFERENCE_DIR}/tiny-a`, "--dry-run");
    expect(plain.status).toBe(1);
    expect(plain.stderr).toMatch(/deploy:sharded failed: .*(not a sharded model|manifest)/);
    expect(plain.stdout).not.toMatch(/^bundled /m);
  });
});
