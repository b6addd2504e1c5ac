import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/engine/rng';

/** Box–Muller on uniform() pairs: the definition that Rng.fillNormal's inlined generator must reproduce. */
function referenceNormals(rng: Rng, out: Float32Array, offset: number, count: number): void {
  let i = offset;
  const end = offset + count;
  while (i < end) {
    const r = Math.sqrt(-2 * Math.log(rng.uniform()));
    const a = 2 * Math.PI * rng.uniform();
    out[i++] = r * Math.cos(a);
    if (i < end) out[i++] = r * Math.sin(a);
  }
}

describe('Rng.fillNormal', () => {
  it('draws exactly the Box–Muller normals of uniform() pairs and leaves the same state (odd counts)', () => {
    for (const [seed, len, offset, count] of [
      [1, 10, 0, 10],
      [7, 11, 0, 11],
      [123456789, 64, 3, 17],
      [2 ** 40 + 5, 4097, 1, 4096],
    ] as const) {
      const fast = Rng.keyed(seed, 4, 99);
      const ref = Rng.keyed(seed, 4, 99);
      const a = new Float32Array(len);
      const b = new Float32Array(len);
      fast.fillNormal(a, offset, count);
      referenceNormals(ref, b, offset, count);
      expect(Array.from(a)).toEqual(Array.from(b));
      // The streams continue identically (the state was written back).
      expect(fast.state()).toEqual(ref.state());
      expect(fast.nextU32()).toBe(ref.nextU32());
    }
  });

  it('normals have mean ~0 and variance ~1', () => {
    const x = Rng.keyed(3, 4, 1).normal(200_000);
    let m = 0;
    for (const v of x) m += v;
    m /= x.length;
    let v2 = 0;
    for (const v of x) v2 += (v - m) ** 2;
    v2 /= x.length;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v2 - 1)).toBeLessThan(0.01);
  });
});
