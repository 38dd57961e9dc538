// Config, model and request service, resolved from the Worker's env once per request (and cached
// per env object, which is stable within an isolate). HTTP routes read them from c.var; the RPC
// entrypoint calls deploymentFor(env) itself.
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Deployment } from "../app-env";
import { JS_RESERVE_BYTES, loadConfig, MODEL_RETRY_MAX_MS } from "../config";
import { modelHandle } from "../engine/registry";
import { shardStubs } from "../engine/shard-bindings";
import { responseCacheFor, withResponseCache } from "../generation/cached-service";
import { engineService } from "../generation/service";
import { modelFiles } from "../model/source";

const resolved = new WeakMap<Env, Deployment>();

export function deploymentFor(env: Env): Deployment {
  let deployment = resolved.get(env);
  if (deployment) return deployment;
  const config = loadConfig(env);
  const { maxBatchSize, maxQueuedRequests, prefixCacheBytes, isolateMemoryBytes, responseCacheBytes } = config.limits;
  const model = modelHandle(
    config.model,
    () => modelFiles(config.model, (name) => Reflect.get(env, name)),
    { maxBatchRows: maxBatchSize, maxWaiting: maxQueuedRequests, prefixCacheBytes, isolateMemoryBytes, jsReserveBytes: JS_RESERVE_BYTES + responseCacheBytes }, // the response cache lives in the JS heap
    { baseMs: config.modelRetryMs, maxMs: MODEL_RETRY_MAX_MS },
    // A sharded model's shards: this isolate's own instances (engine/shard-bindings.ts), unless
    // SHARD_INSTANCE names them (tests and dev: to reach them from another Worker, e.g. to kill one).
    { connect: shardStubs((name) => Reflect.get(env, name), String(Reflect.get(env, "SHARD_INSTANCE") || crypto.randomUUID())) },
  );
  const generation = withResponseCache(engineService(config, model), responseCacheFor(config.limits));
  deployment = { config, model, generation };
  resolved.set(env, deployment);
  return deployment;
}

export function deployment(): MiddlewareHandler<AppEnv> {
  return async function deployment(c, next) {
    const { config, model, generation } = deploymentFor(c.env);
    c.set("config", config);
    c.set("model", model);
    c.set("generation", generation);
    await next();
  };
}
