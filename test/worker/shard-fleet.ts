// A sharded model's shards run in this isolate for tests (issue 14): each shard folder in a real
// onnxruntime session behind the real shard runtime (src/shard/core.ts), reached through stubs as
// the front reaches Durable Objects. The fleet plays the platform's part: it can kill an instance
// (the call it was to answer fails as a lost connection; later calls reach a fresh instance that
// holds no rows), evict one (calls simply reach a fresh instance), keep a shard down, or hold every
// call until released. Each fleet is one front isolate's set of instances (its own instance names);
// every fleet's cores count their keys/values in this isolate's one ledger (src/shard/memory.ts,
// module state), as Durable Object instances of one class sharing an isolate do.
import { env } from "cloudflare:workers";
import { JS_RESERVE_BYTES } from "../../src/config";
import { readManifest } from "../../src/engine/engine";
import { loadGraphSession } from "../../src/engine/layered-session";
import { ort } from "../../src/engine/ort";
import type { ShardApi, ShardStatus } from "../../src/engine/shard-protocol";
import type { ModelManifest } from "../../src/model/manifest";
import { modelFiles } from "../../src/model/source";
import { ShardCore } from "../../src/shard/core";
import { shardForward, type ShardForward } from "../../src/shard/graph";

interface Loaded {
  manifest: ModelManifest;
  forward: ShardForward;
}

const loaded = new Map<string, Promise<{ front: ModelManifest; shards: Loaded[] }>>();

/** The front manifest and every shard's step function of test model `model` (sessions shared). */
export function openShards(model: string): Promise<{ front: ModelManifest; shards: Loaded[] }> {
  let value = loaded.get(model);
  if (!value) loaded.set(model, (value = load(model)));
  return value;
}

async function load(model: string): Promise<{ front: ModelManifest; shards: Loaded[] }> {
  const files = (dir: string) => modelFiles(`fetcher:TEST_MODELS/${dir}`, (name) => Reflect.get(env, name));
  const front = await readManifest(files(model));
  const shards: Loaded[] = [];
  for (const entry of front.shards ?? []) {
    const source = files(`${model}/${entry.path}`);
    const manifest = await readManifest(source);
    const session = await loadGraphSession(source, manifest); // its blocks' graphs, and its MLP kernel
    shards.push({ manifest, forward: shardForward(session, ort.Tensor, manifest, source.location) });
  }
  return { front, shards };
}

export class ShardFleet {
  /** The instance each shard's stubs reach now. */
  private readonly instances: ShardCore[];
  private readonly name: string;
  /** Shards whose next call fails: their instance died under it. */
  private readonly dying = new Set<number>();
  private readonly down = new Map<number, "fail" | "hang">();
  /** Calls that failed because their instance was killed, per shard. */
  readonly lost: number[];
  /** While set, every call waits for it. */
  private gate: Promise<void> | null = null;

  /**
   * `instance`: the front's instance name (unique per fleet by default); `isolateMemoryBytes`: the
   * shards' ISOLATE_MEMORY_BYTES (0, the default: no byte limit). No WebAssembly is counted as the
   * model's: this test isolate's heap holds every test model.
   */
  constructor(private readonly shards: Loaded[], private readonly options: { instance?: string; isolateMemoryBytes?: number } = {}) {
    this.name = options.instance ?? crypto.randomUUID();
    this.instances = shards.map((_, i) => this.fresh(i));
    this.lost = shards.map(() => 0);
  }

  readonly connect = (index: number): ShardApi => {
    const call = async <T>(task: (core: ShardCore) => Promise<T>): Promise<T> => {
      while (this.gate) await this.gate;
      if (this.down.get(index) === "hang") return new Promise<T>(() => undefined);
      if (this.dying.delete(index)) this.lost[index]++;
      else if (!this.down.has(index)) return task(this.instances[index]);
      return Promise.reject(new Error("Network connection lost."));
    };
    return {
      step: (request) => call((core) => core.step(structuredClone(request))),
      release: (ids) => call((core) => core.release(ids)),
      status: () => call((core) => core.status()),
    };
  };

  /** The instance of shard `index` dies: the next call fails, later ones reach a fresh instance. */
  kill(index: number): void {
    this.dying.add(index);
    this.instances[index] = this.fresh(index);
  }

  /** The instance of shard `index` is replaced under the same stubs (evicted, restarted): it holds no rows. */
  evict(index: number): void {
    this.instances[index] = this.fresh(index);
  }

  /** Shard `index` stays unreachable: calls fail, or never answer; null: reachable again. */
  setDown(index: number, how: "fail" | "hang" | null): void {
    if (how) this.down.set(index, how);
    else this.down.delete(index);
  }

  /** Every call waits from now until the returned function is called (a front isolate that stalls). */
  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    return () => {
      this.gate = null;
      open();
    };
  }

  /** A Durable Object namespace binding (SHARD_<index>) whose instances are this fleet's. */
  binding(index: number): { idFromName(name: string): string; get(id: string): ShardApi } {
    return { idFromName: (name) => name, get: () => this.connect(index) };
  }

  status(): Promise<ShardStatus[]> {
    return Promise.all(this.instances.map((core) => core.status()));
  }

  private fresh(index: number): ShardCore {
    const { manifest, forward } = this.shards[index];
    const arch = manifest.architecture;
    const memory = { isolateBytes: this.options.isolateMemoryBytes ?? 0, jsReserveBytes: JS_RESERVE_BYTES, modelBytes: 0 };
    return new ShardCore(forward, { shard: manifest.shard!, heads: arch.n_head, width: arch.n_embd, positions: arch.n_positions, instance: `${this.name}#${index}`, memory });
  }
}
