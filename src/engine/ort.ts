// onnxruntime-web's WASM backend inside workerd. workerd refuses to compile WebAssembly from bytes,
// so ORT's .wasm is imported as a precompiled WebAssembly.Module (wrangler CompiledWasm rule).
// ORT has no option to take a Module, so we hand it a small marker buffer as `wasmBinary` (that
// stops it fetching) and route the one WebAssembly.instantiate call that carries the marker to the
// precompiled module. Every other instantiate call passes through untouched.
import * as ort from "onnxruntime-web/wasm";
// wrangler resolves module-rule imports as file paths, not package exports, hence the relative path.
import ortWasmModule from "../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm";
import { growToPlannedHeap } from "./wasm-heap";

export { ort };

const marker = new ArrayBuffer(8);
let installed = false;
/** ORT's linear memory, once its module is instantiated: the engine's memory budget reads its size. */
let ortMemory: WebAssembly.Memory | null = null;

/** Bytes of ORT's WebAssembly memory now (it never shrinks), or 0 before the first session. */
export function ortMemoryBytes(): number {
  return ortMemory?.buffer.byteLength ?? 0;
}

function findMemory(...namespaces: unknown[]): WebAssembly.Memory | null {
  for (const namespace of namespaces) {
    if (!namespace || typeof namespace !== "object") continue;
    for (const value of Object.values(namespace)) {
      if (value instanceof WebAssembly.Memory) return value;
      const nested = value && typeof value === "object" ? findMemory(value) : null;
      if (nested) return nested;
    }
  }
  return null;
}

function installInstantiateHook(): void {
  if (installed) return;
  installed = true;
  const original = WebAssembly.instantiate.bind(WebAssembly) as (
    source: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<unknown>;
  const hooked = async (source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
    if (ArrayBuffer.isView(source) && source.buffer === marker) {
      const instance = (await original(ortWasmModule, imports)) as WebAssembly.Instance;
      ortMemory = findMemory(instance.exports, imports);
      growToPlannedHeap(imports); // a no-op unless planWasmHeap() set a size (engine/wasm-heap.ts)
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
