/**
 * Deterministic random streams, independent of the tfjs backend.
 *
 * Every random draw in training and sampling comes from a stream keyed by integers
 * (run seed, step, purpose, image index...). Keyed streams make resume exact (the stream for
 * step s is the same whether or not the process restarted) and make per-image sampling seeds
 * possible (image i draws from its own stream whatever batch it is in).
 */

const MASK = 0xffffffff;

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Mixes a list of integer keys into one 32-bit hash (order-sensitive). */
export function hashKeys(...keys: number[]): number {
  let h = 0x2545f491;
  for (const k of keys) {
    // Split keys beyond 32 bits so large step counts or seeds do not collide.
    const lo = k >>> 0;
    const hi = Math.floor(k / 4294967296) >>> 0;
    h = splitmix32(h ^ lo);
    h = splitmix32(h ^ hi ^ 0x68e31da4);
  }
  return h >>> 0;
}

export type RngState = [number, number, number, number];

/** Standard normals by consecutive fillNormal calls (an Rng; prepareLossBatch draws its noise through one). */
export interface NormalSource {
  fillNormal(out: Float32Array, offset?: number, count?: number): Float32Array;
}

/** xoshiro128** with a Box–Muller normal generator. */
export class Rng {
  private s: Uint32Array;

  constructor(state: RngState) {
    this.s = Uint32Array.from(state);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A stream keyed by integers: Rng.keyed(seed, step, purpose). */
  static keyed(...keys: number[]): Rng {
    let h = hashKeys(...keys);
    const st: number[] = [];
    for (let i = 0; i < 4; i++) {
      h = splitmix32(h + i);
      st.push(h);
    }
    return new Rng(st as RngState);
  }

  state(): RngState {
    return [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!];
  }

  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) & MASK;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** Uniform in the open interval (0, 1), 53 bits where it matters little: 32 bits + half step. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal samples written into `out` (Box–Muller, both outputs used; see normalsFromState). */
  fillNormal(out: Float32Array, offset = 0, count = out.length - offset): Float32Array {
    normalsFromState(this.s, out, offset, count);
    return out;
  }

  normal(count: number): Float32Array {
    return this.fillNormal(new Float32Array(count));
  }

  fillUniform(out: Float32Array, lo = 0, hi = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }
}

/**
 * Writes `count` standard normals into out[offset..] from the xoshiro128** state `s` (advanced in
 * place): Box–Muller on pairs of uniform() draws, a pair's second value dropped when count is odd.
 * The generator is inlined on local state (the training noise, hundreds of thousands of values per
 * step, was an eighth of the small model's host time per step on the H200). It references nothing
 * outside itself, so train/lossInputs.ts can run its source in a worker thread.
 */
export function normalsFromState(s: Uint32Array, out: Float32Array, offset: number, count: number): void {
  let s0 = s[0]!;
  let s1 = s[1]!;
  let s2 = s[2]!;
  let s3 = s[3]!;
  let i = offset;
  const end = offset + count;
  while (i < end) {
    // Two xoshiro128** outputs (Rng.nextU32), each mapped to (0, 1) as Rng.uniform does.
    let m = Math.imul(s1, 5);
    const r1 = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    let t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    m = Math.imul(s1, 5);
    const r2 = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    const r = Math.sqrt(-2 * Math.log((r1 + 0.5) / 4294967296));
    const a = 2 * Math.PI * ((r2 + 0.5) / 4294967296);
    out[i++] = r * Math.cos(a);
    if (i < end) out[i++] = r * Math.sin(a);
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Purposes of random streams; distinct constants keep streams independent. */
export const Stream = {
  init: 1,
  batchIndex: 2,
  timestep: 3,
  noise: 4,
  dropout: 5,
  sampleInit: 6,
  sampleStep: 7,
  gapBatch: 8,
  gapNoise: 9,
  dataset: 10,
  flip: 11,
  /** Analytic-DPM's Γ estimate: which training images, and the noise of image g at index j. */
  gammaImages: 12,
  gammaNoise: 13,
  /** Covariance-head training (NPR / SN): timesteps and noise of step s. */
  covTimestep: 14,
  covNoise: 15,
} as const;
