// onnxruntime-web's WASM backend inside workerd. workerd refuses to compile WebAssembly from bytes,
// so ORT's .wasm is imported as a precompiled WebAssembly.Module (wrangler CompiledWasm rule).
// ORT has no option to take a Module, so we hand it a small marker buffer as `wasmBinary` (that
// stops it fetching) and route the one WebAssembly.instantiate call that carries the marker to the
// precompiled module. Every other instantiate call passes through untouched.
import * as ort from "onnxruntime-web/wasm";
// wrangler resolves module-rule imports as file paths, not package exports, hence the relative path.
import ortWasmModule from "../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm";
import { growToPlannedHeap } from "../engine/wasm-heap";

export { ort };

const marker = new ArrayBuffer(8);
let installed = false;

function installInstantiateHook(): void {
  if (installed) return;
  installed = true;
  const original = WebAssembly.instantiate.bind(WebAssembly) as (
    source: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<unknown>;
  const hooked = async (source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
    if (ArrayBuffer.isView(source) && source.buffer === marker) {
      const instance = await original(ortWasmModule, imports);
      growToPlannedHeap(imports); // issue 12 prototype: a no-op unless planWasmHeap() set a size
      return { instance, module: ortWasmModule };
    }
    return original(source, imports);
  };
  (WebAssembly as unknown as { instantiate: typeof hooked }).instantiate = hooked;
}

export function configureOrt(): void {
  installInstantiateHook();
  ort.env.wasm.numThreads = 1; // Workers have no threads.
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = marker;
  ort.env.logLevel = "error";
}

export async function createSession(graph: Uint8Array, externalData: { path: string; data: Uint8Array }[]): Promise<ort.InferenceSession> {
  configureOrt();
  return ort.InferenceSession.create(graph, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
    externalData,
    enableCpuMemArena: true,
  });
}
