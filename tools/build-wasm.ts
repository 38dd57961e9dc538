// `npm run build:wasm` (also run by postinstall, predev, pretest, prebench): assembles every
// hand-written WebAssembly text file under src/ (*.wat) into the .wasm beside it with wabt, the
// WebAssembly Binary Toolkit's npm build — no downloaded toolchain. The .wasm files are build
// outputs (gitignored); wrangler bundles them as CompiledWasm modules, tests and benchmarks in
// Node compile them from bytes. A file is rewritten only when its bytes change, so a running
// `wrangler dev` does not reload for nothing.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import wabtFactory from "wabt";

const root = resolve(import.meta.dirname, "..");

/** WebAssembly features the kernels use; every runtime we target (workerd, Node ≥ 20) has them. */
const FEATURES = { simd: true, sat_float_to_int: true, sign_extension: true };

export async function assembleWat(source: string, fileName: string): Promise<Uint8Array> {
  const wabt = await wabtFactory();
  const module = wabt.parseWat(fileName, source, FEATURES);
  try {
    module.validate();
    return module.toBinary({ log: false, write_debug_names: true }).buffer;
  } finally {
    module.destroy();
  }
}

async function main(): Promise<void> {
  const sources = (await readdir(join(root, "src"), { recursive: true }))
    .map(String)
    .filter((file) => file.endsWith(".wat"))
    .map((file) => join(root, "src", file));
  for (const wat of sources.sort()) {
    const wasm = wat.replace(/\.wat$/, ".wasm");
    const bytes = await assembleWat(await readFile(wat, "utf8"), relative(root, wat));
    const previous = await readFile(wasm).catch(() => null);
    const changed = !previous || Buffer.compare(previous, bytes) !== 0;
    if (changed) await writeFile(wasm, bytes);
    console.log(`wasm: ${relative(root, wasm)} (${bytes.byteLength} bytes${changed ? "" : ", unchanged"})`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  await main();
}
