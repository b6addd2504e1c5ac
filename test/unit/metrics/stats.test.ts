import { describe, expect, it } from 'vitest';
import { FeatureReservoir, GaussianAccumulator } from '../../../src/engine/metrics/stats';
import { maxAbs, randn } from './helpers';

/** Two-pass mean and n−1 covariance, straight from the definition. */
function twoPass(x: Float64Array, n: number, d: number) {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j]! += x[r * d + j]! / n;
  const cov = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++)
        cov[i * d + j]! += ((x[r * d + i]! - mean[i]!) * (x[r * d + j]! - mean[j]!)) / (n - 1);
  }
  return { mean, cov };
}

describe('metrics/stats', () => {
  it('streamed batches of uneven sizes give the two-pass mean and covariance, even with |μ| ≫ σ', () => {
    const n = 203;
    const d = 9;
    const x = randn(n * d, 1).map((v, i) => v * (1 + (i % d)) + 1e5 * ((i % d) - 4));
    const acc = new GaussianAccumulator(d);
    let r = 0;
    for (const b of [1, 50, 7, 100, 45]) {
      acc.add(x.subarray(r * d, (r + b) * d), b);
      r += b;
    }
    const got = acc.finish();
    const ref = twoPass(x, n, d);
    expect(got.count).toBe(n);
    expect(maxAbs(got.mean, ref.mean)).toBeLessThan(1e-9);
    // relative to the covariance scale (diagonal up to 81): the shifted sums keep ~1e-12
    expect(maxAbs(got.cov, ref.cov)).toBeLessThan(1e-9);
  });

  it('moments added from elsewhere (about the shift) equal adding the rows', () => {
    const d = 5;
    const x = randn(40 * d, 2);
    const a = new GaussianAccumulator(d);
    a.add(x, 40);
    const b = new GaussianAccumulator(d);
    const s = b.fixShift(x.subarray(0, 10 * d), 10);
    const sum = new Float64Array(d);
    const prod = new Float64Array(d * d);
    for (let r = 0; r < 40; r++) {
      for (let i = 0; i < d; i++) {
        sum[i]! += x[r * d + i]! - s[i]!;
        for (let j = 0; j < d; j++) prod[i * d + j]! += (x[r * d + i]! - s[i]!) * (x[r * d + j]! - s[j]!);
      }
    }
    b.addMoments(40, sum, prod);
    expect(maxAbs(a.finish().cov, b.finish().cov)).toBeLessThan(1e-12);
  });

  it('refuses bad input by name', () => {
    const acc = new GaussianAccumulator(3);
    expect(() => acc.add(new Float64Array(5), 2)).toThrow(/expected 2x3 values, got 5/);
    expect(() => acc.add(Float64Array.of(1, 2, NaN), 1)).toThrow(/value 2 of row 0 is NaN/);
    expect(() => new GaussianAccumulator(3).finish()).toThrow(/at least 2 samples, got 0/);
  });

  it('reservoir: keeps small sets whole and in order; else a reproducible uniform subsample', () => {
    const small = new FeatureReservoir(2, 10, 0);
    small.add(Float32Array.of(1, 2, 3, 4, 5, 6), 3);
    expect(Array.from(small.matrix().data)).toEqual([1, 2, 3, 4, 5, 6]);
    // every row equally likely to be kept: counts over 400 seeds for 50 rows, capacity 10 → mean 80
    const hits = new Array(50).fill(0);
    for (let seed = 0; seed < 400; seed++) {
      const r = new FeatureReservoir(1, 10, seed);
      for (let i = 0; i < 50; i += 5)
        r.add(
          Float32Array.from({ length: 5 }, (_, k) => i + k),
          5,
        );
      const kept = r.matrix();
      expect(kept.rows).toBe(10);
      expect(new Set(kept.data).size).toBe(10);
      for (const v of kept.data) hits[v]++;
    }
    // binomial(400, 0.2): sd 8; 5 sd either side
    for (const h of hits) expect(Math.abs(h - 80)).toBeLessThan(40);
    const again = (seed: number) => {
      const r = new FeatureReservoir(1, 10, seed);
      r.add(
        Float32Array.from({ length: 50 }, (_, k) => k),
        50,
      );
      return Array.from(r.matrix().data);
    };
    expect(again(7)).toEqual(again(7));
    expect(again(7)).not.toEqual(again(8));
  });
});
