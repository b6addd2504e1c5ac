/**
 * Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11;
 * the generator of cuRAND's and PyTorch's GPU dropout): a keyed bijection of a 128-bit counter, so
 * any element's random word is a pure function of (key, counter) and the GPU and the CPU can draw
 * the same dropout mask independently (gpu/dropout.ts is the WGSL twin of this file).
 *
 * Dropout masks are keyed by (run seed, step, loss term, layer): a resumed run regenerates exactly
 * the masks of an uninterrupted one, on every backend, and nothing mask-sized crosses the bus.
 */
import { Stream, hashKeys } from './rng';

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (exact in doubles through a 16-bit split). */
function mulhi(a: number, b: number): number {
  const lo = a * (b & 0xffff); // < 2^48
  const hi = a * (b >>> 16); // < 2^48
  return Math.floor((hi + Math.floor(lo / 65536)) / 65536) >>> 0;
}

/** Philox-4x32 with 10 rounds: counter [4] and key [2] as u32 → 4 random u32 (into `out`). */
export function philox4x32(
  ctr: ArrayLike<number>,
  key: ArrayLike<number>,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let c0 = ctr[0]! >>> 0;
  let c1 = ctr[1]! >>> 0;
  let c2 = ctr[2]! >>> 0;
  let c3 = ctr[3]! >>> 0;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** Which random stream one dropout layer of one network evaluation draws from. */
export interface DropoutKey {
  /** The run seed. */
  seed: number;
  /** The training step (any non-negative integer below 2^53). */
  step: number;
  /** The loss term (the k of an SA-K loss evaluated one term at a time; 0 when batched). */
  term: number;
}

/**
 * Philox key and the fixed counter words of one dropout layer: element quad q draws counter
 * (q, layer, term, step / 2^32) under key (hash(seed), step mod 2^32), so streams never overlap.
 */
export interface DropoutWords {
  k0: number;
  k1: number;
  c1: number;
  c2: number;
  c3: number;
}

export function dropoutWords(key: DropoutKey, layer: number): DropoutWords {
  for (const [name, v] of [
    ['seed', key.seed],
    ['step', key.step],
    ['term', key.term],
    ['layer', layer],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`dropout: ${name} must be a non-negative integer, got ${v}`);
  }
  if (key.term > 0xffffffff || layer > 0xffffffff) throw new Error('dropout: term and layer must fit in 32 bits');
  return {
    k0: hashKeys(key.seed, Stream.dropout),
    k1: key.step >>> 0,
    c1: layer,
    c2: key.term,
    c3: Math.floor(key.step / 4294967296) >>> 0,
  };
}

/** Random words at or above this threshold keep their element: P(drop) = floor(rate·2^32) / 2^32. */
export function dropThreshold(rate: number): number {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  return Math.floor(rate * 4294967296);
}

/** The factor kept elements are multiplied by, 1/(1 − rate) rounded to float32. */
export function dropScale(rate: number): number {
  return Math.fround(1 / (1 - rate));
}

/**
 * The multiplier of each of `size` elements: 1/(1 − rate) where kept, 0 where dropped. Element
 * 4q + j takes word j of the counter for quad q (the WGSL kernel's layout).
 */
export function dropoutMask(size: number, rate: number, w: DropoutWords): Float32Array {
  const thr = dropThreshold(rate);
  const scale = dropScale(rate);
  const out = new Float32Array(size);
  const ctr = new Uint32Array([0, w.c1, w.c2, w.c3]);
  const key = [w.k0, w.k1];
  const r = new Uint32Array(4);
  for (let q = 0; q * 4 < size; q++) {
    ctr[0] = q;
    philox4x32(ctr, key, r);
    const base = q * 4;
    const n = Math.min(4, size - base);
    for (let j = 0; j < n; j++) out[base + j] = r[j]! >= thr ? scale : 0;
  }
  return out;
}
