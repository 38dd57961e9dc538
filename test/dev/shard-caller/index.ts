// A Worker that calls shard Durable Objects over RPC exactly as the front does (one binding per
// shard, SHARD_<i>), behind a small JSON API for test/dev/shard-worker.test.ts: hidden states cross
// as JSON numbers (float32 → double → float32 is exact).
import { isShardStateLost, type ShardApi, type ShardStepRequest } from "../../../src/engine/shard-protocol";

type ShardStub = ShardApi & { fault(afterSteps?: number): Promise<void> };
type Env = Record<string, DurableObjectNamespace | undefined>;

function shard(env: Env, index: string): ShardStub {
  const namespace = env[`SHARD_${index}`];
  if (!namespace) throw new Error(`no binding SHARD_${index}`);
  return namespace.get(namespace.idFromName("shard")) as unknown as ShardStub;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const [, action, index] = new URL(request.url).pathname.split("/");
    if (action === "health") return new Response("ok");
    try {
      const body = request.method === "POST" ? ((await request.json()) as Record<string, unknown>) : {};
      const stub = shard(env, index);
      if (action === "step") {
        const result = await stub.step({ ...(body as unknown as ShardStepRequest), hidden: Float32Array.from(body.hidden as number[]) });
        return Response.json({ hidden: Array.from(result.hidden), positions: result.positions });
      }
      if (action === "release") return Response.json(await stub.release(body.ids as string[]) ?? null);
      if (action === "status") return Response.json(await stub.status());
      if (action === "fault") return Response.json(await stub.fault(body.afterSteps as number) ?? null);
      return new Response("no such route", { status: 404 });
    } catch (error) {
      const { name, message } = error as Error;
      return Response.json({ name, message, lost: isShardStateLost(error) }, { status: 500 });
    }
  },
} satisfies ExportedHandler<Env>;
