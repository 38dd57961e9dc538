// Prototype (issue 12, item 3): size onnxruntime's WASM heap once, on purpose. emscripten grows
// the memory in steps of at least 20% when an allocation does not fit, so a heap that needed
// 101 MiB may jump to 121 and then 145 MiB: up to a fifth of it never used, and it never shrinks.
// Growing it once to what the model and the KV budget will need (weights + KV budget + measured
// runtime overhead) leaves emscripten nothing to grow.
//
// When: "instantiate" grows right after ORT's module is instantiated, before the weights are
// copied in. Measured (distilgpt2 int8, workerd): that raises the load peak, because the grown heap
// and the weights still held in JS coexist. "after-load" grows once the session exists and the
// weights' JS copy is gone: same steady state, load peak unchanged.
// Off unless planWasmHeap() was called with a size before onnxruntime is first initialised.

let plannedBytes = 0;
let plannedWhen: "instantiate" | "after-load" = "instantiate";
const PAGE = 65_536;
/** ORT's memories, seen at instantiation (its memory is created in JS and imported). */
const ortMemories: WebAssembly.Memory[] = [];

/** The heap size onnxruntime's memory is grown to, and when; 0 turns this off. */
export function planWasmHeap(bytes: number, when: "instantiate" | "after-load" = "instantiate"): void {
  plannedBytes = Math.max(0, Math.ceil(bytes / PAGE) * PAGE);
  plannedWhen = when;
}

/** Hook for ORT's instantiation (src/session/ort.ts): remembers its memory; grows it if planned so. */
export function growToPlannedHeap(imports: WebAssembly.Imports | undefined): number {
  for (const namespace of Object.values(imports ?? {})) {
    for (const value of Object.values(namespace)) {
      if (!(value instanceof WebAssembly.Memory)) continue;
      ortMemories.push(value);
      limitOvergrowth(value);
    }
  }
  return plannedWhen === "instantiate" ? growPlannedHeapNow() : 0;
}

/**
 * When an allocation does not fit, emscripten asks for max(needed, 1.2 × heap), and on failure
 * retries with 1.1 × and 1.05 ×: the heap that loads GPT-2's 85 MiB of weights ends up to a fifth
 * larger than what it holds, for good. Refusing the first two over-grown asks (at most two in a
 * row, each exactly 1.2 × or 1.1 × the heap) leaves emscripten's own last try: the need, or 5 % more.
 */
function limitOvergrowth(memory: WebAssembly.Memory): void {
  const grow = memory.grow.bind(memory);
  let refused = 0;
  const overgrown = (target: number, factor: number) => target === Math.ceil((memory.buffer.byteLength * factor) / PAGE) * PAGE;
  memory.grow = (pages: number) => {
    const target = memory.buffer.byteLength + pages * PAGE;
    if (refused < 2 && (overgrown(target, 1.2) || overgrown(target, 1.1))) {
      refused++;
      throw new RangeError("over-grown heap refused (engine/wasm-heap.ts): emscripten retries with less");
    }
    refused = 0;
    return grow(pages);
  };
}

/** Grows ORT's memory to the planned size now (call after session creation for "after-load"). */
export function growPlannedHeapNow(): number {
  if (plannedBytes === 0) return 0;
  let grown = 0;
  for (const memory of ortMemories) {
    const pages = Math.ceil((plannedBytes - memory.buffer.byteLength) / PAGE);
    if (pages > 0) {
      memory.grow(pages);
      grown += pages * PAGE;
    }
  }
  return grown;
}
