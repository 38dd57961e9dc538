// A Worker that drives shard Durable Objects over RPC exactly as the front does (one binding per
// shard, SHARD_<i>, from the generated config: tools/sharded/config.ts), for tests and measurements
// without the front: test/dev/shard-worker.test.ts and tools/bench/shard-isolates.ts.
//   POST /step/<i> {…ShardStepRequest, hidden: number[]}   one shard's step (JSON numbers: float32 → double → float32 is exact)
//   POST /run {width, steps: [{rows, seq, release?}], seed}  steps through every shard, hidden states made here
//   POST /release/<i> {ids}, GET /status/<i>, POST /fault/<i> {afterSteps}
//   ?instance=<name> on any of them: another instance of the shards ("shard" by default), as another
//   front isolate reaches its own
import { isShardOverloaded, isShardStateLost, type ShardApi, type ShardRow, type ShardStepRequest } from "../../../src/engine/shard-protocol";

type ShardStub = ShardApi & { fault(afterSteps?: number): Promise<void> };
type Env = Record<string, DurableObjectNamespace | undefined>;

function shard(env: Env, index: number | string, instance = "shard"): ShardStub {
  const namespace = env[`SHARD_${index}`];
  if (!namespace) throw new Error(`no binding SHARD_${index}`);
  return namespace.get(namespace.idFromName(instance)) as unknown as ShardStub;
}

const shardCount = (env: Env) => Object.keys(env).filter((name) => /^SHARD_\d+$/.test(name)).length;

interface RunBody {
  width: number;
  steps: Array<{ rows: ShardRow[]; seq: number; release?: string[] }>;
  seed?: number;
}

/** Each step through every shard in order (lastOnly to the last), as the front's pipeline does. */
async function run(env: Env, { width, steps, seed = 1 }: RunBody): Promise<{ ms: number[] }> {
  const shards = Array.from({ length: shardCount(env) }, (_, i) => shard(env, i));
  const ms: number[] = [];
  for (const [n, { rows, seq, release = [] }] of steps.entries()) {
    const started = Date.now();
    let hidden: Float32Array = Float32Array.from({ length: rows.length * seq * width }, (_, i) => Math.sin(seed * 7919 + n * 104729 + i) * 0.5);
    const positionIds = rows.flatMap((row) => Array.from({ length: seq }, (_, i) => row.past + i));
    for (const [i, stub] of shards.entries()) {
      hidden = (await stub.step({ rows, seq, hidden, positionIds, release, lastOnly: i === shards.length - 1 })).hidden;
    }
    ms.push(Date.now() - started);
  }
  return { ms };
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const [, action, index] = url.pathname.split("/");
    if (action === "health") return new Response("ok");
    try {
      const body = request.method === "POST" ? ((await request.json()) as Record<string, unknown>) : {};
      if (action === "run") return Response.json(await run(env, body as unknown as RunBody));
      const stub = shard(env, index, url.searchParams.get("instance") ?? undefined);
      if (action === "step") {
        const result = await stub.step({ ...(body as unknown as ShardStepRequest), hidden: Float32Array.from(body.hidden as number[]) });
        return Response.json({ hidden: Array.from(result.hidden), positions: result.positions });
      }
      if (action === "release") return Response.json((await stub.release(body.ids as string[])) ?? null);
      if (action === "status") return Response.json(await stub.status());
      if (action === "fault") return Response.json((await stub.fault(body.afterSteps as number)) ?? null);
      return new Response("no such route", { status: 404 });
    } catch (error) {
      const { name, message } = error as Error;
      return Response.json({ name, message, lost: isShardStateLost(error), overloaded: isShardOverloaded(error) }, { status: 500 });
    }
  },
} satisfies ExportedHandler<Env>;
