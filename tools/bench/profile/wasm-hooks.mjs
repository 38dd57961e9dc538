// Node module hooks: `import m from "./x.wasm"` yields a compiled WebAssembly.Module, as wrangler's
// CompiledWasm rule does in workerd — so the engine's own code runs unchanged in Node (profiling).
import { register } from "node:module";

register("data:text/javascript," + encodeURIComponent(`
  export async function load(url, context, next) {
    if (!url.endsWith(".wasm")) return next(url, context);
    const source = "import { readFileSync } from 'node:fs';" +
      "export default new WebAssembly.Module(readFileSync(new URL(" + JSON.stringify(url) + ")));";
    return { format: "module", source, shortCircuit: true };
  }
`));
