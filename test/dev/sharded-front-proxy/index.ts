// The front of a sharded model behind a thin Worker for test/dev/sharded-front.test.ts: everything
// goes to the front (service binding FRONT), except POST /fault/<i> {afterSteps}, which arms the
// shard's test-only abort (GptShard.fault, SHARD_FAULTS=1) on the very instance the front uses
// (SHARD_INSTANCE, set on the front too): a real kill of a Durable Object mid-generation.
interface Env {
  FRONT: Fetcher;
  SHARD_INSTANCE: string;
  [binding: string]: unknown;
}

type Faulty = { fault(afterSteps: number): Promise<void> };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const fault = /^\/fault\/(\d+)$/.exec(new URL(request.url).pathname);
    if (!fault) return env.FRONT.fetch(request);
    const namespace = env[`SHARD_${fault[1]}`] as DurableObjectNamespace;
    const { afterSteps } = (await request.json()) as { afterSteps: number };
    await (namespace.get(namespace.idFromName(env.SHARD_INSTANCE)) as unknown as Faulty).fault(afterSteps);
    return Response.json({ armed: Number(fault[1]), afterSteps });
  },
} satisfies ExportedHandler<Env>;
