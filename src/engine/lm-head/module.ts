// The kernel as the Worker loads it: wrangler's CompiledWasm rule (wrangler.toml, **/*.wasm) turns
// this import into a WebAssembly.Module compiled at deploy time — workerd cannot compile
// WebAssembly from bytes at run time. Built from lm-head.wat by `npm run build:wasm`.
import lmHeadModule from "./lm-head.wasm";

export { lmHeadModule };
