// A sharded model's shards as the front Worker reaches them: shard i is the Durable Object class
// bound as SHARD_<i> (a Worker script of its own, so an isolate of its own). Each front isolate
// names its own instances (one name, in every shard's namespace): a Durable Object runs one call at
// a time, so sharing one set between front isolates would queue every isolate's steps behind the
// others', and each front admits keys/values by a budget it could no longer see being spent by the
// others. (Tests and dev may fix the name, SHARD_INSTANCE, to reach the same instances from outside.)
import type { ShardApi } from "./shard-protocol";

/** The binding that serves shard `index` of a sharded model. */
export const shardBindingName = (index: number): string => `SHARD_${index}`;

interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): unknown;
}

const isNamespace = (value: unknown): value is Namespace =>
  typeof value === "object" && value !== null && typeof (value as Namespace).idFromName === "function" && typeof (value as Namespace).get === "function";

/**
 * Stubs of this isolate's shard instances from the Worker's bindings (`binding(name)` is env[name]).
 * A missing binding fails the model's load with what to configure.
 */
export function shardStubs(binding: (name: string) => unknown, instance: string): (index: number, count: number) => ShardApi {
  return (index, count) => {
    const name = shardBindingName(index);
    const namespace = binding(name);
    if (!isNamespace(namespace)) {
      throw new Error(`the model is sharded into ${count} shards and this Worker has no Durable Object binding ${name}: bind SHARD_0..SHARD_${count - 1} to the shard Workers' class (npm run dev:sharded does)`);
    }
    return namespace.get(namespace.idFromName(instance)) as ShardApi;
  };
}
