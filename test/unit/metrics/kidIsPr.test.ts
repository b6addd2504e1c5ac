import { describe, expect, it } from 'vitest';
import { kernelInceptionDistance, mmd2Unbiased } from '../../../src/engine/metrics/kid';
import { InceptionScoreAccumulator, inceptionScore } from '../../../src/engine/metrics/inceptionScore';
import { precisionRecall } from '../../../src/engine/metrics/precisionRecall';
import type { FeatureMatrix } from '../../../src/engine/metrics/features';
import { randn } from './helpers';

function points(rows: number, dim: number, seed: number, scale = 1, shift = 0): FeatureMatrix {
  return { rows, dim, data: Float32Array.from(randn(rows * dim, seed), (v) => v * scale + shift) };
}

/** Unbiased MMD² by its definition: pairs i ≠ j within each set, all pairs across. */
function bruteMmd2(x: FeatureMatrix, y: FeatureMatrix): number {
  const d = x.dim;
  const k = (a: FeatureMatrix, i: number, b: FeatureMatrix, j: number) => {
    let dot = 0;
    for (let p = 0; p < d; p++) dot += a.data[i * d + p]! * b.data[j * d + p]!;
    return (dot / d + 1) ** 3;
  };
  const m = x.rows;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        xx += k(x, i, x, j);
        yy += k(y, i, y, j);
      }
      xy += k(x, i, y, j);
    }
  }
  return xx / (m * (m - 1)) + yy / (m * (m - 1)) - (2 * xy) / (m * m);
}

describe('metrics/kid', () => {
  it('one subset holding every sample equals the brute-force unbiased MMD²', async () => {
    const x = points(30, 6, 1);
    const y = points(30, 6, 2, 1.3, 0.4);
    const ref = bruteMmd2(x, y);
    expect(await mmd2Unbiased(x, y, { gamma: 1 / 6, coef0: 1, degree: 3 })).toBeCloseTo(ref, 10);
    const kid = await kernelInceptionDistance(x, y, { subsets: 5, subsetSize: 1000 });
    expect(kid.subsetSize).toBe(30); // capped at the set size
    for (const v of kid.values) expect(v).toBeCloseTo(ref, 10);
    expect(kid.std).toBeLessThan(1e-10);
  });

  it('subsets: mean ± population std of per-subset brute-force values; more separation, larger KID', async () => {
    const x = points(60, 4, 3);
    const near = await kernelInceptionDistance(x, points(60, 4, 4), { subsets: 20, subsetSize: 15, seed: 1 });
    const far = await kernelInceptionDistance(x, points(60, 4, 5, 1, 1.5), { subsets: 20, subsetSize: 15, seed: 1 });
    const mean = near.values.reduce((a, b) => a + b, 0) / 20;
    expect(near.mean).toBeCloseTo(mean, 12);
    expect(near.std).toBeCloseTo(Math.sqrt(near.values.reduce((a, b) => a + (b - mean) ** 2, 0) / 20), 12);
    expect(new Set(near.values).size).toBe(20); // different subsets
    expect(far.mean).toBeGreaterThan(near.mean + 5 * near.std);
    expect(
      (await kernelInceptionDistance(x, points(60, 4, 4), { subsets: 20, subsetSize: 15, seed: 1 })).values,
    ).toEqual(near.values);
    await expect(kernelInceptionDistance(x, points(1, 4, 6))).rejects.toThrow(
      /at least 2 samples in each set, got 60 real and 1 generated/,
    );
  });
});

describe('metrics/inceptionScore', () => {
  it('uniform predictions score 1; one-hot predictions spread evenly over C classes score C', () => {
    const c = 8;
    const n = 160;
    expect(inceptionScore(new Float32Array(n * c), n, c).mean).toBeCloseTo(1, 12);
    const onehot = new Float32Array(n * c).fill(-1e4);
    for (let i = 0; i < n; i++) onehot[i * c + (i % c)] = 0;
    const r = inceptionScore(onehot, n, c, 10);
    expect(r.mean).toBeCloseTo(c, 10);
    expect(r.std).toBeLessThan(1e-9);
    expect(r.values).toHaveLength(10);
  });

  it('matches exp(E KL(p(y|x) ‖ p(y))) computed directly; streaming in chunks changes nothing', () => {
    const c = 5;
    const n = 23; // uneven parts: ⌊iN/S⌋ boundaries
    const logits = Float32Array.from(randn(n * c, 9), (v) => 2 * v);
    const splits = 3;
    const direct: number[] = [];
    for (let s = 0; s < splits; s++) {
      const lo = Math.floor((s * n) / splits);
      const hi = Math.floor(((s + 1) * n) / splits);
      const probs: number[][] = [];
      for (let i = lo; i < hi; i++) {
        const e = Array.from(logits.subarray(i * c, (i + 1) * c), Math.exp);
        const z = e.reduce((a, b) => a + b, 0);
        probs.push(e.map((v) => v / z));
      }
      const py = new Array(c).fill(0).map((_, j) => probs.reduce((a, p) => a + p[j]!, 0) / probs.length);
      const kl = probs.map((p) => p.reduce((a, pj, j) => a + pj * Math.log(pj / py[j]!), 0));
      direct.push(Math.exp(kl.reduce((a, b) => a + b, 0) / kl.length));
    }
    const whole = inceptionScore(logits, n, c, splits);
    whole.values.forEach((v, i) => expect(v).toBeCloseTo(direct[i]!, 10));
    const acc = new InceptionScoreAccumulator(n, c, splits);
    for (const [a, b] of [
      [0, 4],
      [4, 5],
      [5, 17],
      [17, 23],
    ])
      acc.add(logits.subarray(a! * c, b! * c), b! - a!);
    expect(acc.finish().values).toEqual(whole.values);
    expect(() => new InceptionScoreAccumulator(5, c, 10)).toThrow(/at least one sample per split \(10 splits\), got 5/);
    const short = new InceptionScoreAccumulator(n, c, splits);
    short.add(logits.subarray(0, 4 * c), 4);
    expect(() => short.finish()).toThrow(/4 of the announced 23 samples/);
  });
});

describe('metrics/precisionRecall', () => {
  it('identical sets → 1/1; disjoint far-apart sets → 0/0', async () => {
    const a = points(40, 5, 11);
    expect(await precisionRecall(a, a)).toMatchObject({ precision: 1, recall: 1, k: 3 });
    expect(await precisionRecall(a, points(40, 5, 12, 1, 100))).toMatchObject({ precision: 0, recall: 0 });
  });

  it('generated = one of two far-apart real clusters → precision 1, recall 1/2', async () => {
    const clusterA = points(25, 4, 13);
    const clusterB = points(25, 4, 14, 1, 50);
    const real: FeatureMatrix = { rows: 50, dim: 4, data: Float32Array.from([...clusterA.data, ...clusterB.data]) };
    const r = await precisionRecall(real, clusterA);
    expect(r.precision).toBe(1);
    expect(r.recall).toBe(0.5);
  });

  it('agrees with the definition computed by brute force (sorted distances) on random sets', async () => {
    const real = points(35, 3, 15);
    const fake = points(30, 3, 16, 1.4, 0.5);
    const dist = (p: FeatureMatrix, i: number, q: FeatureMatrix, j: number) => {
      let s = 0;
      for (let t = 0; t < 3; t++) s += (p.data[i * 3 + t]! - q.data[j * 3 + t]!) ** 2;
      return Math.sqrt(s);
    };
    const radii = (m: FeatureMatrix) =>
      Array.from(
        { length: m.rows },
        (_, i) => Array.from({ length: m.rows }, (_, j) => dist(m, i, m, j)).sort((x, y) => x - y)[3]!,
      );
    const cover = (q: FeatureMatrix, r: FeatureMatrix, rad: number[]) =>
      Array.from({ length: q.rows }, (_, i) => rad.some((rj, j) => dist(q, i, r, j) <= rj)).filter(Boolean).length /
      q.rows;
    const rr = radii(real);
    const fr = radii(fake);
    const got = await precisionRecall(real, fake);
    expect(got.precision).toBeCloseTo(cover(fake, real, rr), 12);
    expect(got.recall).toBeCloseTo(cover(real, fake, fr), 12);
    expect(got.precision).toBeGreaterThan(0);
    expect(got.precision).toBeLessThan(1);
    await expect(precisionRecall(points(3, 3, 1), fake)).rejects.toThrow(
      /real set needs more than k = 3 samples, got 3/,
    );
  });
});
