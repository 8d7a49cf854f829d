/**
 * A HyperLogLog sketch with Redis's layout: 2^14 registers, Redis's hash
 * (murmur.ts) and Redis's estimator (Ertl, "New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017), so a count here and a
 * `PFCOUNT` of the same sessions agree exactly. Standard error 1.04/√16384 ≈ 0.81 %.
 *
 * Small sketches are sparse: an open-addressing table of `(register, rank)`
 * entries in a `Uint32Array`, 64 bytes to start, doubling up to 8 KiB; past
 * that the sketch turns dense, one byte per register (16 KiB). Most time
 * buckets of most (release, cohort) series hold a few sessions, so most cost
 * well under a kilobyte.
 */
import { HLL_PRECISION, HLL_Q, HLL_REGISTERS, hashedIndex, hashedRank, hllHash } from './murmur.js';

/** The relative standard error of a count: 1.04/√m. */
export const HLL_STANDARD_ERROR = 1.04 / Math.sqrt(HLL_REGISTERS);

const SPARSE_START = 16;
/** The largest sparse table (entries); one more doubling would cost as much as the dense form. */
const SPARSE_MAX = 2048;
const RANK_BITS = 6;
const RANK_MASK = (1 << RANK_BITS) - 1;

/** Redis's dense string: a 16-byte header ("HYLL", encoding 0, 3 unused, 8-byte cached count) and 6-bit registers. */
export const REDIS_HLL_HEADER = 16;
export const REDIS_HLL_DENSE_BYTES = REDIS_HLL_HEADER + (HLL_REGISTERS * 6) / 8;

export class HyperLogLog {
  #dense: Uint8Array | undefined;
  #sparse: Uint32Array = new Uint32Array(SPARSE_START);
  #entries = 0;

  /** Bytes held by the registers (the table or the dense array). */
  get bytes(): number {
    return this.#dense === undefined ? this.#sparse.byteLength : this.#dense.byteLength;
  }

  /** True when nothing was added. */
  get empty(): boolean {
    return this.#dense === undefined && this.#entries === 0;
  }

  /** Adds a value (a session id). Returns true when a register grew. */
  addText(text: string): boolean {
    hllHash(text);
    return this.add(hashedIndex, hashedRank);
  }

  /** Sets register `index` to at least `rank`. Returns true when it grew. */
  add(index: number, rank: number): boolean {
    const dense = this.#dense;
    if (dense !== undefined) {
      if (dense[index]! >= rank) return false;
      dense[index] = rank;
      return true;
    }
    const table = this.#sparse;
    const mask = table.length - 1;
    const key = index + 1;
    for (let slot = index & mask; ; slot = (slot + 1) & mask) {
      const entry = table[slot]!;
      if (entry === 0) {
        table[slot] = (key << RANK_BITS) | rank;
        if (++this.#entries * 4 > table.length * 3) this.#grow();
        return true;
      }
      if (entry >>> RANK_BITS === key) {
        if ((entry & RANK_MASK) >= rank) return false;
        table[slot] = (key << RANK_BITS) | rank;
        return true;
      }
    }
  }

  /** Raises every register of `target` (a dense array of 2^14) to at least this sketch's. */
  maxInto(target: Uint8Array): void {
    const dense = this.#dense;
    if (dense !== undefined) {
      for (let i = 0; i < HLL_REGISTERS; i++) if (dense[i]! > target[i]!) target[i] = dense[i]!;
      return;
    }
    for (const entry of this.#sparse) {
      if (entry === 0) continue;
      const index = (entry >>> RANK_BITS) - 1;
      const rank = entry & RANK_MASK;
      if (rank > target[index]!) target[index] = rank;
    }
  }

  /** Raises this sketch's registers to at least those of `other`. */
  merge(other: HyperLogLog): void {
    const registers = other.registers();
    for (let i = 0; i < HLL_REGISTERS; i++) if (registers[i]! > 0) this.add(i, registers[i]!);
  }

  /** A dense copy of the registers. */
  registers(): Uint8Array {
    const out = new Uint8Array(HLL_REGISTERS);
    this.maxInto(out);
    return out;
  }

  /** The estimated number of distinct values added. */
  count(): number {
    return estimate(this.registers());
  }

  /** The sketch as a Redis dense HyperLogLog string, ready for `SET` and `PFMERGE`. */
  toRedis(): Buffer {
    return toRedisDense(this.registers());
  }

  #grow(): void {
    const old = this.#sparse;
    if (old.length >= SPARSE_MAX) {
      const dense = new Uint8Array(HLL_REGISTERS);
      for (const entry of old) if (entry !== 0) dense[(entry >>> RANK_BITS) - 1] = entry & RANK_MASK;
      this.#dense = dense;
      this.#sparse = new Uint32Array(0);
      return;
    }
    this.#sparse = new Uint32Array(old.length * 2);
    this.#entries = 0;
    for (const entry of old) if (entry !== 0) this.add((entry >>> RANK_BITS) - 1, entry & RANK_MASK);
  }
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  let previous: number;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (previous !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let previous: number;
  do {
    x = Math.sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (previous !== z);
  return z / 3;
}

/** Redis's estimator (hyperloglog.c `hllCount`) over dense registers. */
export function estimate(registers: Uint8Array): number {
  const m = HLL_REGISTERS;
  const histogram = new Array<number>(HLL_Q + 2).fill(0);
  for (let i = 0; i < m; i++) histogram[registers[i]!]!++;
  let z = m * tau((m - histogram[HLL_Q + 1]!) / m);
  for (let j = HLL_Q; j >= 1; j--) {
    z += histogram[j]!;
    z *= 0.5;
  }
  z += m * sigma(histogram[0]! / m);
  return Math.round((0.5 / Math.LN2) * m * (m / z));
}

/** Dense registers as Redis's dense HyperLogLog string (cached count marked invalid). */
export function toRedisDense(registers: Uint8Array): Buffer {
  const out = Buffer.alloc(REDIS_HLL_DENSE_BYTES);
  out.write('HYLL', 0, 'latin1');
  out[15] = 0x80; // the cached cardinality is stale: PFCOUNT computes it
  for (let i = 0; i < HLL_REGISTERS; i++) {
    const value = registers[i]!;
    if (value === 0) continue;
    const bit = i * 6;
    const byte = REDIS_HLL_HEADER + (bit >>> 3);
    const shift = bit & 7;
    out[byte]! |= (value << shift) & 0xff;
    if (shift > 2) out[byte + 1]! |= value >>> (8 - shift);
  }
  return out;
}

/** The registers of a Redis dense HyperLogLog string, or `undefined` when it is not one. */
export function fromRedisDense(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length !== REDIS_HLL_DENSE_BYTES || Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== 'HYLL') {
    return undefined;
  }
  if (bytes[4] !== 0) return undefined;
  const registers = new Uint8Array(HLL_REGISTERS);
  for (let i = 0; i < HLL_REGISTERS; i++) {
    const bit = i * 6;
    const byte = REDIS_HLL_HEADER + (bit >>> 3);
    const shift = bit & 7;
    registers[i] = ((bytes[byte]! >>> shift) | ((bytes[byte + 1] ?? 0) << (8 - shift))) & 63;
  }
  return registers;
}

export { HLL_PRECISION, HLL_REGISTERS };
