// A Worker that uses Edge GPT-2 as another team's Worker would: the binding typed with
// Gpt2Binding, errors read with gpt2ErrorOf (the only part of rpc-client.ts in its bundle).
import { gpt2ErrorOf, type Gpt2Binding } from "../../../src/rpc-client";

interface CallerEnv {
  GPT2: Gpt2Binding;
}

export default {
  async fetch(request: Request, env: CallerEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return new Response("ok");
    const requestId = request.headers.get("x-request-id") ?? undefined;
    try {
      if (pathname === "/generate") return Response.json(await env.GPT2.generate(await request.json(), { requestId }));
      return new Response("no such route", { status: 404 });
    } catch (error) {
      // What crossed the boundary (name, message, own properties), and what gpt2ErrorOf makes of it.
      const { name, message } = error as Error;
      return Response.json({ thrown: { name, message, ownKeys: Object.keys(error as object) }, details: gpt2ErrorOf(error) }, { status: 502 });
    }
  },
} satisfies ExportedHandler<CallerEnv>;
