// The embedding file above the static-assets limit: written as parts (distilgpt2's is 37 MiB, over
// the 25 MiB wrangler dev allows per asset), listed in the manifest entry, joined by the loader into
// exactly the unsplit bytes; a re-conversion leaves no stale whole file or parts behind.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EMBEDDING_FILE, readEmbeddingFile, writeEmbeddingFile } from "../../tools/convert/embedding-file.js";
import { modelFiles } from "../../src/model/source.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// 300 tokens × 64 wide: 19,200 table bytes + 1,200 scale bytes, split at 8,000 bytes → 3 parts.
const vocab = 300;
const hidden = 64;
const table = Int8Array.from({ length: vocab * hidden }, (_, i) => ((i * 37) % 255) - 127);
const scales = Float32Array.from({ length: vocab }, (_, i) => 0.001 * (i + 1));

describe("the embedding file for static assets", () => {
  it("is split into parts no larger than the limit that join to the unsplit file, and reads back whole", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "embedding-parts-"));
    dirs.push(dir);
    const whole = await writeEmbeddingFile(dir, table, scales);
    expect(whole.parts).toBeUndefined();
    const wholeBytes = await readFile(path.join(dir, EMBEDDING_FILE));

    const split = await writeEmbeddingFile(dir, table, scales, 8_000);
    expect(split).toMatchObject({ path: EMBEDDING_FILE, bytes: whole.bytes, sha256: whole.sha256 });
    expect(split.parts!.map((p) => p.path)).toEqual(["embedding.int8.part-000", "embedding.int8.part-001", "embedding.int8.part-002"]);
    // The whole file an earlier conversion wrote is gone: only the parts stay.
    expect((await readdir(dir)).sort()).toEqual(split.parts!.map((p) => p.path));
    for (const part of split.parts!) {
      const bytes = await readFile(path.join(dir, part.path));
      expect(bytes.byteLength).toBeLessThanOrEqual(8_000);
      expect(part.sha256).toBe(sha256(bytes));
    }

    // Through a model source, as the Worker streams it (sha256 is checked there by crypto.DigestStream,
    // workerd only): the manifest's parts joined in order.
    const entry = { ...split, role: "embedding" as const };
    const manifest = { format: "edge-gpt2/1", files: [entry] };
    const files = modelFiles("fetcher:DISK/m", () => ({
      async fetch(url: string) {
        const name = decodeURIComponent(new URL(url).pathname).replace(/^\/m\//, "");
        if (name === "manifest.json") return new Response(JSON.stringify(manifest));
        return readFile(path.join(dir, name)).then((b) => new Response(b), () => new Response("missing", { status: 404 }));
      },
    }));
    await files.read("manifest.json");
    const joined = Buffer.from(await new Response(await files.stream(EMBEDDING_FILE)).arrayBuffer());
    expect(joined.byteLength).toBe(split.bytes);
    expect(sha256(joined)).toBe(split.sha256);
    expect(joined.equals(wholeBytes)).toBe(true);
    const back = readEmbeddingFile(joined, vocab, hidden);
    expect(back.table).toEqual(table);
    expect(back.scales).toEqual(scales);

    // Converted again without a limit: the parts go, the whole file is back.
    await writeEmbeddingFile(dir, table, scales);
    expect(await readdir(dir)).toEqual([EMBEDDING_FILE]);
  });
});
