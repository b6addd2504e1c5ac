import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/engine/rng';

/** fillNormal as first written: two uniform() draws per Box–Muller pair. Streams must never change. */
function referenceNormal(rng: Rng, out: Float32Array, offset: number, count: number): void {
  let i = offset;
  const end = offset + count;
  while (i < end) {
    const u1 = rng.uniform();
    const u2 = rng.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const a = 2 * Math.PI * u2;
    out[i++] = r * Math.cos(a);
    if (i < end) out[i++] = r * Math.sin(a);
  }
}

describe('Rng.fillNormal', () => {
  it('gives exactly the reference stream (odd counts, offsets) and leaves the generator where the reference does', () => {
    for (const [count, offset] of [
      [1, 0],
      [7, 3],
      [1000, 0],
      [4097, 11],
    ] as const) {
      const a = Rng.keyed(42, count, 7);
      const b = Rng.keyed(42, count, 7);
      const got = a.fillNormal(new Float32Array(count + offset), offset, count);
      const want = new Float32Array(count + offset);
      referenceNormal(b, want, offset, count);
      expect(Array.from(got)).toEqual(Array.from(want));
      expect(a.state()).toEqual(b.state());
      expect(a.nextU32()).toBe(b.nextU32());
    }
  });

  it('is a standard normal (mean ~0, variance ~1 over 200k draws)', () => {
    const x = Rng.keyed(1).normal(200_000);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
  });
});
