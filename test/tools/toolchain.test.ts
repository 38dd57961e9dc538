// The install and dev facts README's quick start and deploy section state, checked where they can
// drift: npm reads the project's config without warnings, a fresh install on Node 20 keeps the lock
// as committed and downloads nothing for onnxruntime-node, the bundled Node satisfies wrangler,
// `npx wrangler` runs whatever Node runs npm, `npm run dev` takes --port, and the CPU limit leaves
// the generation budget room. (`npm run dev -- --port` itself is what test/browser starts.)
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { unstable_readConfig } from "wrangler";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const json = (file: string) => JSON.parse(readFileSync(path.join(ROOT, file), "utf8"));
const pkg = json("package.json");
const run = (command: string, args: string[]) =>
  spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
const version = (v: string) => v.replace(/^[^\d]*/, "").split(".").map(Number);
const atLeast = (have: number[], want: number[]) => {
  for (let i = 0; i < 3; i++) if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0);
  return true;
};

describe("install", () => {
  it("npm reads the project's config without 'Unknown project config' (or any) warning", () => {
    const result = run("npm", ["config", "get", "registry"]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
  });

  it("engines allows Node 20 and the lock records the same, so npm install neither refuses nor rewrites it", () => {
    expect(pkg.engines).toEqual({ node: ">=20" });
    expect(json("package-lock.json").packages[""].engines).toEqual(pkg.engines);
  });

  it("onnxruntime-node's install script is denied, and nothing was downloaded into it", () => {
    expect(pkg.allowScripts["onnxruntime-node"]).toBe(false);
    const bin = path.join(ROOT, "node_modules/onnxruntime-node/bin/napi-v6/linux/x64");
    if (process.platform === "linux" && process.arch === "x64") {
      expect(existsSync(path.join(bin, "onnxruntime_binding.node"))).toBe(true); // the CPU binary ships in the package
      expect(existsSync(path.join(bin, "libonnxruntime_providers_cuda.so"))).toBe(false);
    }
  });
});

describe("Node versions", () => {
  const wranglerNeeds = version(json("node_modules/wrangler/package.json").engines.node);

  it("the node dev dependency and .nvmrc satisfy wrangler's engines", () => {
    expect(atLeast(version(json("node_modules/node/package.json").version), wranglerNeeds)).toBe(true);
    const nvmrc = readFileSync(path.join(ROOT, ".nvmrc"), "utf8").trim();
    expect(nvmrc).toBe("22"); // nvm picks the newest 22.x, which is past 22.12
    expect(Number(nvmrc)).toBeGreaterThanOrEqual(wranglerNeeds[0]);
  });

  it("npx wrangler runs on the bundled Node, whatever Node runs npx", () => {
    const result = run("npx", ["wrangler", "--version"]);
    expect(result.stderr).not.toMatch(/requires at least Node/);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("wrangler.toml", () => {
  const config = unstable_readConfig({ config: path.join(ROOT, "wrangler.toml") });

  it("[dev] holds the port, so `npm run dev -- --port N` is the only --port", () => {
    expect(config.dev.port).toBe(8787);
    expect(pkg.scripts.dev).toBe("wrangler dev");
  });

  it("[limits] cpu_ms covers GENERATION_TIMEOUT_MS with room for the step in flight, within Workers Paid's 300000", () => {
    const cpuMs = config.limits?.cpu_ms ?? 0;
    const budget = Number((config.vars as Record<string, string>).GENERATION_TIMEOUT_MS);
    expect(budget).toBe(25_000);
    expect(cpuMs).toBeGreaterThan(budget);
    expect(cpuMs).toBeLessThanOrEqual(300_000);
  });
});
