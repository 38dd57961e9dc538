// Type-level test, checked by `npm run typecheck` (never run): a Worker that types its service
// binding with rpc-client.ts's Gpt2Binding cannot send a malformed request, and gets typed bodies.
import { expectTypeOf } from "vitest";
import type { GenerateRequestBody, GenerateResponseBody, Gpt2Binding } from "../../src/rpc-client";

declare const env: { GPT2: Gpt2Binding };

export async function callerThatTypeChecks(): Promise<void> {
  const body = await env.GPT2.generate({ prompt: "Once upon a time", max_new_tokens: 20, stop: ["."] }, { requestId: "abc" });
  expectTypeOf(body.generations[0].text).toEqualTypeOf<string>();
  expectTypeOf(body.generations[0].finish_reason).toEqualTypeOf<"stop" | "length" | "time" | "cancelled">();
  expectTypeOf(body.usage.prompt_tokens).toEqualTypeOf<number>();
  expectTypeOf(body.timings.cache).toEqualTypeOf<"model" | "memory" | "edge" | "coalesced">();
  const stream = await env.GPT2.generateStream({ prompt: "Hi" });
  expectTypeOf(stream).toExtend<ReadableStream<Uint8Array>>();
  expectTypeOf<GenerateRequestBody>().toHaveProperty("top_p");
  expectTypeOf<GenerateResponseBody>().toHaveProperty("seed");
}

export async function callerThatDoesNot(): Promise<void> {
  // @ts-expect-error prompt must be a string
  await env.GPT2.generate({ prompt: 1234 });
  // @ts-expect-error top_pp is not a field (a typo of top_p)
  await env.GPT2.generate({ prompt: "x", top_pp: 3 });
  // @ts-expect-error stop is a list of strings
  await env.GPT2.generate({ prompt: "x", stop: [1] });
  // @ts-expect-error generate() does not stream: use generateStream()
  await env.GPT2.generate({ prompt: "x", stream: true });
  // @ts-expect-error prompt is required
  await env.GPT2.generate({ max_new_tokens: 3 });
  // @ts-expect-error the response has no `text` at the top level
  (await env.GPT2.generate({ prompt: "x" })).text;
}
