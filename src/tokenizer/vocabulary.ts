// GPT-2's vocabulary as flat typed arrays, built once per isolate from gpt-tokenizer's r50k_base
// tables (identical to GPT-2's encoder.json; a token's id is also its BPE rank):
// - every token's bytes (decoding),
// - the token of each single byte (where BPE starts),
// - `merge(left, right)`: the token whose bytes are left's then right's, if any (what BPE merges to).
// A token's hash is a polynomial over its bytes, so the hash of two tokens' concatenation follows
// from theirs in O(1): merge() needs no table of pairs built up front and allocates nothing.
import r50k from "gpt-tokenizer/encoding/r50k_base";

export const EOS_TOKEN_ID = 50256;
export const EOS_TEXT = "<|endoftext|>";
export const VOCAB_SIZE = 50257;

export interface Vocabulary {
  /** Token `id`'s bytes are data[offsets[id] .. offsets[id + 1]). */
  data: Uint8Array;
  offsets: Uint32Array;
  /** byteToken[b]: the token that is the single byte b. */
  byteToken: Uint16Array;
  /** The longest token, in bytes: a piece of n bytes is at least ceil(n / this) tokens. */
  maxTokenBytes: number;
  /** The token the pair (left, right) merges into, or -1 when their bytes together are no token. */
  merge(left: number, right: number): number;
}

/** The piece of gpt-tokenizer we read the tables from (pinned version; checked on first use). */
interface BpeCore {
  tryDecodeToken(id: number): string | Uint8Array | undefined;
}

let vocabulary: Vocabulary | undefined;

export function gpt2Vocabulary(): Vocabulary {
  vocabulary ??= buildVocabulary();
  return vocabulary;
}

function bpeCore(): BpeCore {
  const candidate = (r50k as unknown as { bytePairEncodingCoreProcessor?: BpeCore }).bytePairEncodingCoreProcessor;
  if (!candidate || typeof candidate.tryDecodeToken !== "function") {
    throw new Error("gpt-tokenizer's BPE core is not where this code expects it: pin gpt-tokenizer to 4.0.0");
  }
  return candidate;
}

function buildVocabulary(): Vocabulary {
  const { data, offsets } = tokenBytes();
  const tokens = new TokenTable(data, offsets);
  const byteToken = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    const id = tokens.find(Uint8Array.of(b));
    if (id < 0) throw new Error(`byte ${b} has no token in r50k_base`);
    byteToken[b] = id;
  }
  let maxTokenBytes = 1;
  for (let id = 0; id < EOS_TOKEN_ID; id++) maxTokenBytes = Math.max(maxTokenBytes, offsets[id + 1] - offsets[id]);
  return { data, offsets, byteToken, maxTokenBytes, merge: (left, right) => tokens.concatenation(left, right) };
}

function tokenBytes(): { data: Uint8Array; offsets: Uint32Array } {
  const core = bpeCore();
  const values: (string | Uint8Array)[] = [];
  let capacity = 0;
  for (let id = 0; id < VOCAB_SIZE; id++) {
    const value = id === EOS_TOKEN_ID ? EOS_TEXT : core.tryDecodeToken(id);
    if (value === undefined) throw new Error(`token ${id} has no bytes in r50k_base`);
    values.push(value);
    capacity += typeof value === "string" ? 3 * value.length : value.length; // ≤ 3 UTF-8 bytes per UTF-16 unit
  }
  // encodeInto one shared buffer: 50k separate encode() calls would each allocate.
  const buffer = new Uint8Array(capacity);
  const offsets = new Uint32Array(VOCAB_SIZE + 1);
  const utf8 = new TextEncoder();
  values.forEach((value, id) => {
    const at = offsets[id];
    if (typeof value === "string") offsets[id + 1] = at + utf8.encodeInto(value, buffer.subarray(at)).written;
    else {
      buffer.set(value, at);
      offsets[id + 1] = at + value.length;
    }
  });
  return { data: buffer.slice(0, offsets[VOCAB_SIZE]), offsets };
}

// Polynomial hash mod 2^32 (Math.imul wraps): hash(a + b) = hash(a) * BASE^len(b) + hash(b).
// Collisions are resolved by comparing bytes.
const HASH_BASE = 0x01000193;
const SLOT_BITS = 17; // 131072 slots for 50256 tokens: load ~0.38

function slotOf(hash: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> (32 - SLOT_BITS);
}

/** Open addressing (linear probing) from a token's bytes to its id; ids 0..EOS-1 (EOS is no BPE token). */
class TokenTable {
  private readonly slots = new Int32Array(1 << SLOT_BITS); // id + 1; 0 = empty
  private readonly hashes = new Int32Array(EOS_TOKEN_ID);
  private readonly powers = new Int32Array(EOS_TOKEN_ID); // HASH_BASE ** byte length

  constructor(
    private readonly data: Uint8Array,
    private readonly offsets: Uint32Array,
  ) {
    const mask = this.slots.length - 1;
    for (let id = 0; id < EOS_TOKEN_ID; id++) {
      let hash = 0;
      let power = 1;
      for (let i = offsets[id]; i < offsets[id + 1]; i++) {
        hash = (Math.imul(hash, HASH_BASE) + data[i] + 1) | 0;
        power = Math.imul(power, HASH_BASE);
      }
      this.hashes[id] = hash;
      this.powers[id] = power;
      let slot = slotOf(hash);
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = id + 1;
    }
  }

  /** The token that is exactly these bytes, or -1. */
  find(bytes: Uint8Array): number {
    let hash = 0;
    for (const byte of bytes) hash = (Math.imul(hash, HASH_BASE) + byte + 1) | 0;
    const mask = this.slots.length - 1;
    for (let slot = slotOf(hash); this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      const id = this.slots[slot] - 1;
      if (this.hashes[id] !== hash || this.offsets[id + 1] - this.offsets[id] !== bytes.length) continue;
      if (bytes.every((byte, i) => this.data[this.offsets[id] + i] === byte)) return id;
    }
    return -1;
  }

  /** The token whose bytes are left's followed by right's, or -1. */
  concatenation(left: number, right: number): number {
    const { data, offsets, slots } = this;
    const hash = (Math.imul(this.hashes[left], this.powers[right]) + this.hashes[right]) | 0;
    const leftStart = offsets[left];
    const leftLength = offsets[left + 1] - leftStart;
    const rightStart = offsets[right];
    const length = leftLength + offsets[right + 1] - rightStart;
    const mask = slots.length - 1;
    for (let slot = slotOf(hash); slots[slot] !== 0; slot = (slot + 1) & mask) {
      const id = slots[slot] - 1;
      if (this.hashes[id] !== hash) continue;
      const start = offsets[id];
      if (offsets[id + 1] - start !== length) continue;
      let equal = true;
      for (let i = 0; i < length && equal; i++) {
        equal = data[start + i] === (i < leftLength ? data[leftStart + i] : data[rightStart + i - leftLength]);
      }
      if (equal) return id;
    }
    return -1;
  }
}
