// One log line per finished generation: sizes, reasons and timings. Prompts and generated text
// are the users' data and stay out of the logs unless the operator sets LOG_PROMPTS="1".
import type { Config } from "../config";
import type { GenerationOutcome } from "../generation/service";

export function logGeneration(config: Config, route: string, prompt: string, outcome: GenerationOutcome): void {
  const { result, plan, timings } = outcome;
  const line: Record<string, unknown> = {
    event: "generation",
    route,
    model: outcome.modelName,
    prompt_tokens: plan.promptIds.length,
    completion_tokens: result.sequences.reduce((sum, s) => sum + s.tokenIds.length, 0),
    finish_reasons: result.sequences.map((s) => s.finishReason),
    total_ms: timings.total_ms,
    decode_tokens_per_second: timings.decode_tokens_per_second,
  };
  if (config.logPrompts) {
    line.prompt = prompt;
    line.outputs = result.sequences.map((s) => s.text);
  }
  console.log(JSON.stringify(line));
}
