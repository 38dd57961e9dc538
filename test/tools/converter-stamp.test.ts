// What the converter stamp covers: a converted model is rebuilt when anything that shapes its files
// changes (converter, synthesizer, calibration corpus, the helpers and project modules they import),
// and not when a bench-only helper does.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { converterInputs, converterStamp } from "../../tools/lib/converter-stamp.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const inputs = converterInputs().map((file) => path.relative(ROOT, file));

describe("converter stamp", () => {
  it("hashes the converter, the synthesizer and the calibration corpus", () => {
    expect(inputs).toEqual(expect.arrayContaining(["tools/convert/index.ts", "tools/convert/quantize.ts", "tools/convert/calibration-corpus.txt", "tools/synth/index.ts"]));
  });

  it("follows their imports into tools/lib and src (the tokenizer tokenizes the calibration corpus)", () => {
    expect(inputs).toEqual(expect.arrayContaining(["tools/lib/safetensors.ts", "tools/lib/manifest.ts", "src/tokenizer/index.ts", "src/tokenizer/bpe.ts", "src/model/manifest.ts"]));
  });

  it("leaves out helpers the converter never imports", () => {
    for (const file of ["tools/lib/isolate-memory.ts", "tools/lib/bench-dev-env.ts", "tools/lib/bundle.ts", "tools/lib/converter-stamp.ts", "tools/bench/run.ts", "src/http/generate.ts"]) expect(inputs).not.toContain(file);
  });

  it("is a stable sha-256 of them", () => {
    expect(converterStamp()).toMatch(/^[0-9a-f]{64}$/);
    expect(converterStamp()).toBe(converterStamp());
  });
});
