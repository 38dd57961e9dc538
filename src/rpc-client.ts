// For Workers that call Edge GPT-2 over a service binding: the binding's type, and what a thrown
// error meant. Importing this module adds only the few lines of gpt2ErrorOf to a caller's bundle
// (everything else here is a type).
//
//   import { gpt2ErrorOf, type Gpt2Binding } from "edge-gpt2/src/rpc-client";
//   interface Env { GPT2: Gpt2Binding }
//   try {
//     const body = await env.GPT2.generate({ prompt: "Hello", max_new_tokens: 20 });
//   } catch (e) {
//     const error = gpt2ErrorOf(e);   // {status, type, param, request_id, message} or null
//     if (error?.status === 400) …
//   }
//
// Why a helper: Workers RPC keeps only an error's name and message across separate Workers (own
// properties such as `status` are dropped), so the server appends them to the message in a form
// this module parses; where the runtime does keep the properties, they are read directly.
import type { Gpt2Service } from "./rpc";

export { gpt2ErrorOf, type Gpt2ErrorDetails } from "./rpc-error";

export type { GenerateRequestBody, GenerateResponseBody, GenerateStreamRequestBody, Gpt2CallOptions, Gpt2Service } from "./rpc";

/** The type of a service binding to the Gpt2Service entrypoint (`entrypoint = "Gpt2Service"`). */
export type Gpt2Binding = Service<Gpt2Service>;
