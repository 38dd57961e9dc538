// Seeded pseudo-random numbers for sampling. Everything is 32-bit integer arithmetic
// (Math.imul, >>> 0, | 0), so a seed yields the same stream on V8, workerd, JSC and
// SpiderMonkey — unlike Math.random, which can be neither seeded nor reproduced.
//
// Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, as in PractRand),
// seeded from a single uint32 via splitmix32. The built-in counter `d` rules out the
// all-zero state, and 12 warm-up rounds decorrelate nearby seeds.

/** Largest accepted seed; seeds are integers in [0, 2^32 - 1]. */
export const MAX_SEED = 0xffffffff;

const TWO_POW_53 = 9007199254740992;

/** splitmix32 step: returns [output, nextState]. Golden-ratio increment + murmur3 finaliser. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  return [fmix32(next), next];
}

/** murmur3's 32-bit finaliser: a bijective avalanche on uint32. */
function fmix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function assertSeed(seed: number, what: string): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`${what} must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  }
}

/**
 * Raw sfc32 stream of uint32 values for `seed`. Exposed for tests and for callers that
 * want integers; `createRng` builds doubles on top of it.
 */
export function createUint32Rng(seed: number): () => number {
  assertSeed(seed, "seed");
  let s = seed | 0;
  let out: number;
  [out, s] = splitmix32(s);
  let a = out | 0;
  [out, s] = splitmix32(s);
  let b = out | 0;
  [out, s] = splitmix32(s);
  let c = out | 0;
  [out, s] = splitmix32(s);
  let d = out | 0;

  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) nextUint32();
  return nextUint32;
}

/**
 * Seeded uniform doubles in [0, 1) with 53 random bits (two uint32 draws per value, the
 * same construction as Python's random.random), so the finest probability a sampler can
 * resolve is 2^-53 rather than 2^-32.
 */
export function createRng(seed: number): () => number {
  const nextUint32 = createUint32Rng(seed);
  return () => {
    const hi = nextUint32() >>> 5; // 27 bits
    const lo = nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  };
}

/**
 * Seed for stream `streamIndex` (e.g. the row of num_return_sequences) derived from a
 * request seed: rows get unrelated streams, yet a (seed, row) pair always reproduces.
 * Hashing both inputs (instead of seed + row) keeps request seeds 7 and 8 from sharing rows.
 */
export function deriveSeed(seed: number, streamIndex: number): number {
  assertSeed(seed, "seed");
  assertSeed(streamIndex, "streamIndex");
  return fmix32(seed ^ fmix32((streamIndex + 0x9e3779b9) | 0));
}

/** A fresh uint32 seed from the platform CSPRNG (Workers and Node >= 20 expose globalThis.crypto). */
export function randomSeed(): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return buf[0];
}
