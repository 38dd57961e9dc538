// The sharded bench's front (tools/bench/sharded-isolates.ts): the project's front Worker as is,
// plus two routes the measurement needs and nothing serves. workerd's inspector answers for an
// isolate only while something runs in it, and the front's own routes load the model (GET /health
// does): GET /__bench/ping enters the front's isolate and does nothing else, and, since before the
// model loads nothing enters a shard's isolate, GET /__bench/enter-shard/<i> calls shard i's release([]) on an instance of its own
// (Durable Object instances of one script share its isolate in workerd), which enters the isolate
// without loading anything (src/shard/index.ts). Every other request goes to the real front.
import front from "../../../src/index";

export { Gpt2Service } from "../../../src/index";

interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): { release(ids: string[]): Promise<void> };
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/ping") return new Response("ok"); // enters the front's isolate (GET /health would load the model)
    const enter = /^\/__bench\/enter-shard\/(\d+)$/.exec(path);
    if (!enter) return front.fetch(request, env, ctx);
    const namespace = (env as unknown as Record<string, Namespace | undefined>)[`SHARD_${enter[1]}`];
    if (!namespace) return new Response(`no binding SHARD_${enter[1]}`, { status: 404 });
    await namespace.get(namespace.idFromName("bench-enter")).release([]);
    return new Response("entered");
  },
} satisfies ExportedHandler<Env>;
