// CLI: [PROFILE_OUT=x.cpuprofile] node --disable-wasm-trap-handler --import tsx --import ./tools/bench/profile/wasm-hooks.mjs \
//        tools/bench/profile/decode.ts <model folder> [context] [tokens]
// Our engine (loadEngine → scheduler → session → kernel head → sampling), unchanged, greedy-decoding
// in Node with explicit WebAssembly bounds checks as in workerd: for a CPU profile of a decode step
// (workerd's clock stops between I/O, so a step cannot be split by timers inside the Worker).
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { loadEngine } from "../../../src/engine/engine";
import type { ModelFiles } from "../../../src/model/source";
import { SAMPLING_DEFAULTS } from "../../../src/sampling/settings";
import { benchPrompt } from "../plan";

/** workerd's crypto.DigestStream (hashing while streaming), on node:crypto. */
class NodeDigestStream extends WritableStream<ArrayBufferView | ArrayBuffer> {
  readonly digest: Promise<ArrayBuffer>;
  constructor(algorithm: string) {
    const hash = createHash(algorithm.replace("-", "").toLowerCase());
    let done!: (value: ArrayBuffer) => void;
    super({
      write: (chunk) => void hash.update(ArrayBuffer.isView(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : new Uint8Array(chunk)),
      close: () => done(new Uint8Array(hash.digest()).buffer),
    });
    this.digest = new Promise((resolve) => (done = resolve));
  }
}
(crypto as unknown as { DigestStream: unknown }).DigestStream = NodeDigestStream;

async function main(): Promise<void> {
  const [dir, contextArg = "128", tokensArg = "64"] = process.argv.slice(2);
  const files: ModelFiles = {
    location: dir,
    read: async (path) => new Uint8Array(await readFile(join(dir, path))),
    stream: async (path) => Readable.toWeb(createReadStream(join(dir, path))) as ReadableStream<Uint8Array>,
  };
  const engine = await loadEngine(files, { maxBatchRows: 8, maxWaiting: 8, prefixCacheBytes: 0, isolateMemoryBytes: 0, jsReserveBytes: 0 });
  const vocab = engine.manifest.architecture.vocab_size;
  const generate = (context: number, tokens: number) =>
    engine.submit({
      promptIds: benchPrompt(context, vocab),
      maxNewTokens: tokens,
      sampling: { ...SAMPLING_DEFAULTS, do_sample: false, min_new_tokens: tokens },
      seed: 1,
      stop: [],
      eosTokenId: engine.manifest.tokenizer.eos_token_id,
      numSequences: 1,
      budget: { deadline: null, now: Date.now },
    });
  await generate(8, 4);
  // Profile only the decode-heavy generations (not the load), when asked: --profile <file>.
  const profile = process.env.PROFILE_OUT;
  const inspector = new Session();
  inspector.connect();
  if (profile) {
    await inspector.post("Profiler.enable");
    await inspector.post("Profiler.setSamplingInterval", { interval: 200 });
    await inspector.post("Profiler.start");
  }
  for (let rep = 0; rep < 3; rep++) {
    const result = await generate(Number(contextArg), Number(tokensArg));
    console.log(`context ${contextArg}: ${result.steps} steps, ${(result.decodeMs / result.steps).toFixed(1)} ms/step, prefill ${result.prefillMs} ms`);
  }
  if (profile) await writeFile(profile, JSON.stringify((await inspector.post("Profiler.stop")).profile));
  await engine.release();
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
