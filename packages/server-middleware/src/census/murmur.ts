/**
 * Redis's HyperLogLog hash, so a sketch built here and one built by `PFADD`
 * hold the very same registers (docs/census.md, "Merging through Redis"):
 * MurmurHash64A (Austin Appleby) over the UTF-8 bytes, seed `0xadc83b19`;
 * the low 14 bits pick the register, the position of the lowest set bit of
 * the other 50 (plus one) is the rank.
 *
 * JavaScript has no 64-bit integer multiply that is cheap (BigInt allocates),
 * so the 64-bit words are pairs of 32-bit halves and the multiplies are done
 * in 16-bit pieces. The result lands in module-level variables instead of a
 * returned object: this runs once per API request and must not allocate.
 */

/** Bits of the hash that pick a register: 2^14 = 16,384 registers, as Redis. */
export const HLL_PRECISION = 14;
/** Number of registers. */
export const HLL_REGISTERS = 1 << HLL_PRECISION;
/** Hash bits left for the rank; the rank is at most `HLL_Q + 1` (51). */
export const HLL_Q = 64 - HLL_PRECISION;

const SEED = 0xadc83b19;
// m = 0xc6a4a7935bd1e995
const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;

let outHi = 0;
let outLo = 0;

/** (ah:al) × (bh:bl) mod 2^64 into outHi:outLo. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  outLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const carry = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  outHi = (carry + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
}

/** h ^= h >>> 47 on a 64-bit value given as halves, into outHi:outLo. */
function xorShift47(hi: number, lo: number): void {
  // h >>> 47 has hi = 0 and lo = hi >>> 15.
  outHi = hi;
  outLo = (lo ^ (hi >>> 15)) >>> 0;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(128);

/** The UTF-8 bytes of `text` in `scratch`; returns the length. ASCII (every session id) takes the fast path. */
function utf8(text: string): number {
  const length = text.length;
  if (length * 3 > scratch.length) scratch = new Uint8Array(length * 3);
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encodeInto(text, scratch).written;
    scratch[i] = code;
  }
  return length;
}

/** Register index of the last {@link hllHash}. */
export let hashedIndex = 0;
/** Rank (1–51) of the last {@link hllHash}. */
export let hashedRank = 0;

/**
 * Hashes `text` as Redis's `PFADD` does and sets {@link hashedIndex} and
 * {@link hashedRank}. Allocation-free for ASCII input.
 */
export function hllHash(text: string): void {
  const length = utf8(text);
  const data = scratch;
  // h = seed ^ (len * m)
  mul64(0, length, M_HI, M_LO);
  let hi = outHi;
  let lo = (outLo ^ SEED) >>> 0;
  const whole = length - (length & 7);
  for (let i = 0; i < whole; i += 8) {
    const kLo = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
    const kHi = (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) >>> 0;
    mul64(kHi, kLo, M_HI, M_LO);
    xorShift47(outHi, outLo);
    mul64(outHi, outLo, M_HI, M_LO);
    hi = (hi ^ outHi) >>> 0;
    lo = (lo ^ outLo) >>> 0;
    mul64(hi, lo, M_HI, M_LO);
    hi = outHi;
    lo = outLo;
  }
  const rest = length & 7;
  if (rest > 0) {
    let tailHi = 0;
    let tailLo = 0;
    for (let j = rest - 1; j >= 0; j--) {
      const byte = data[whole + j]!;
      if (j >= 4) tailHi |= byte << ((j - 4) * 8);
      else tailLo |= byte << (j * 8);
    }
    hi = (hi ^ tailHi) >>> 0;
    lo = (lo ^ tailLo) >>> 0;
    mul64(hi, lo, M_HI, M_LO);
    hi = outHi;
    lo = outLo;
  }
  xorShift47(hi, lo);
  mul64(outHi, outLo, M_HI, M_LO);
  xorShift47(outHi, outLo);
  hi = outHi;
  lo = outLo;

  hashedIndex = lo & (HLL_REGISTERS - 1);
  // The remaining 50 bits: 18 from lo, 32 from hi; bit 50 set so the rank is at most 51.
  const restLo = lo >>> HLL_PRECISION;
  if (restLo !== 0) {
    hashedRank = 1 + ctz32(restLo);
  } else if (hi !== 0) {
    hashedRank = 1 + (32 - HLL_PRECISION) + ctz32(hi);
  } else {
    hashedRank = HLL_Q + 1;
  }
}

/**
 * {@link hllHash} as one number, `rank << HLL_PRECISION | index`: what the
 * server keeps per session so that counting its next request needs no hash.
 */
export function sessionHash(text: string): number {
  hllHash(text);
  return (hashedRank << HLL_PRECISION) | hashedIndex;
}

/** Trailing zeros of a non-zero 32-bit value. */
function ctz32(value: number): number {
  return 31 - Math.clz32(value & -value);
}
