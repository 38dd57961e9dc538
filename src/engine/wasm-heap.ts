// Prototype (issue 12, item 3): size onnxruntime's WASM heap once, on purpose. emscripten grows
// the memory in steps of at least 20% when an allocation does not fit, so a heap that needed
// 101 MiB may jump to 121 and then 145 MiB: up to a fifth of it never used, and it never shrinks.
// Growing it once, right after instantiation, to what the model and the KV budget will need
// (weights + KV budget + measured runtime overhead) leaves emscripten nothing to grow.
// Off unless planWasmHeap() was called with a size before onnxruntime is first initialised.

let plannedBytes = 0;
const PAGE = 65_536;

/** The heap size onnxruntime's memory is grown to when it is instantiated; 0 turns this off. */
export function planWasmHeap(bytes: number): void {
  plannedBytes = Math.max(0, Math.ceil(bytes / PAGE) * PAGE);
}

/**
 * Called with the imports of onnxruntime's instantiation (its memory is created in JS and
 * imported): grows every WebAssembly.Memory found there to the planned size, once.
 */
export function growToPlannedHeap(imports: WebAssembly.Imports | undefined): number {
  if (plannedBytes === 0) return 0;
  let grownPages = 0;
  for (const namespace of Object.values(imports ?? {})) {
    for (const value of Object.values(namespace)) {
      if (!(value instanceof WebAssembly.Memory)) continue;
      const pages = Math.ceil((plannedBytes - value.buffer.byteLength) / PAGE);
      if (pages > 0) {
        value.grow(pages);
        grownPages += pages;
      }
    }
  }
  return grownPages * PAGE;
}
