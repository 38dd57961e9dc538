// Hugging Face generate() for one request: prefill the prompt once, then one token per step per
// sequence, feeding each step's present keys/values back as the next step's past. It takes
// `forward` as a parameter, so tests drive it with a fake model. In the Worker, requests go through
// the model's shared BatchScheduler instead (same code path, other requests in the batch).
import type { KvPadding } from "../model/manifest";
import type { Forward } from "./forward";
import { BatchScheduler, type GenerationJob, type JobResult } from "./scheduler";

export type { GenerationListener, SequenceResult } from "./sequence";
export type GenerateOptions = GenerationJob & { pause?: () => Promise<void>; kvPadding?: KvPadding };
export type GenerateResult = JobResult;

export function generate(forward: Forward, options: GenerateOptions): Promise<GenerateResult> {
  const scheduler = new BatchScheduler(forward, { maxBatchRows: options.numSequences, maxWaiting: 1 }, {
    pause: options.pause,
    kvPadding: options.kvPadding,
  });
  return scheduler.submit(options);
}
