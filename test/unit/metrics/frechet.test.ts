import { describe, expect, it } from 'vitest';
import { frechetDistance, traceSqrtProduct } from '../../../src/engine/metrics/frechet';
import { pivotedCholesky, sqrtPsd, symmetricEigen, symmetricEigenvalues } from '../../../src/engine/metrics/linalg';
import { matmul, maxAbs, randn, randomOrthogonal, randomSpd, transposed, withSpectrum } from './helpers';

/**
 * √A of a symmetric positive definite matrix by the coupled Newton–Schulz iteration (Higham 2008):
 * only matrix products, nothing shared with the eigensolver under test.
 */
function sqrtNewtonSchulz(a: Float64Array, n: number): Float64Array {
  let norm = 0;
  for (const v of a) norm += v * v;
  norm = Math.sqrt(norm);
  let y: Float64Array = a.map((v) => v / norm);
  let z: Float64Array = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  for (let it = 0; it < 100; it++) {
    const zy = matmul(z, y, n, n, n);
    const t = zy.map((v) => -v);
    for (let i = 0; i < n; i++) t[i * n + i]! += 3;
    for (let i = 0; i < t.length; i++) t[i] = t[i]! / 2;
    const y2 = matmul(y, t, n, n, n);
    const z2 = matmul(t, z, n, n, n);
    const change = maxAbs(y2, y);
    y = y2;
    z = z2;
    if (change < 1e-15) break;
  }
  return y.map((v) => v * Math.sqrt(norm));
}

function traceOf(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i * n + i]!;
  return s;
}

describe('metrics/linalg', () => {
  it('symmetric eigendecomposition: known spectrum, orthonormal vectors, A·v = λ·v', () => {
    const n = 37;
    const lambda = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : 1 + i * 0.37)); // repeated zeros too
    const q = randomOrthogonal(n, 3);
    const a = withSpectrum(q, lambda, n);
    const got = [...symmetricEigenvalues(a, n)].sort((x, y) => x - y);
    expect(
      maxAbs(
        got,
        [...lambda].sort((x, y) => x - y),
      ),
    ).toBeLessThan(1e-12);
    const { values, vectors } = symmetricEigen(a, n);
    const vvt = matmul(vectors, transposed(vectors, n, n), n, n, n);
    const eye = new Float64Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    expect(maxAbs(vvt, eye)).toBeLessThan(1e-12);
    for (let k = 0; k < n; k++) {
      const v = vectors.subarray(k * n, (k + 1) * n);
      const av = matmul(a, Float64Array.from(v), n, n, 1);
      expect(
        maxAbs(
          av,
          v.map((x) => x * values[k]!),
        ),
      ).toBeLessThan(1e-11);
    }
  });

  it('eigenvalues converge next to a cluster at the rounding noise of much larger ones', () => {
    // rank-2 + identity with huge leading eigenvalues: a purely local deflation test stalls here
    // (a case where the relative test of the first version failed to converge)
    const n = 500;
    const g = new Float64Array(n * 2).map((_, i) => Math.sin(i * 0.7 + 1));
    const a = matmul(g, transposed(g, n, 2), n, 2, n);
    for (let i = 0; i < n; i++) a[i * n + i]! += 1;
    const ev = [...symmetricEigenvalues(a, n)].sort((x, y) => x - y);
    expect(maxAbs(ev.slice(0, n - 2), new Array(n - 2).fill(1))).toBeLessThan(1e-9);
  });

  it('sqrtPsd squares back to the matrix and equals the Newton–Schulz root', () => {
    const n = 24;
    const a = randomSpd(n, 40, 5, 0.1);
    const r = sqrtPsd(a, n);
    expect(maxAbs(matmul(r, r, n, n, n), a) / Math.max(...a)).toBeLessThan(1e-12);
    expect(maxAbs(r, sqrtNewtonSchulz(a, n))).toBeLessThan(1e-10);
  });

  it('pivoted Cholesky of a singular PSD matrix: rank and P A Pᵀ = L Lᵀ', () => {
    const n = 20;
    const a = randomSpd(n, 7, 9); // rank 7
    const { lt, rank, perm } = pivotedCholesky(a, n);
    expect(rank).toBe(7);
    const l = transposed(Float64Array.from(lt), rank, n);
    const llt = matmul(l, Float64Array.from(lt), n, rank, n);
    const pap = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) pap[i * n + j] = a[perm[i]! * n + perm[j]!]!;
    expect(maxAbs(llt, pap)).toBeLessThan(1e-12);
  });
});

describe('metrics/frechet', () => {
  it('1-D Gaussians: (μ₁ − μ₂)² + (σ₁ − σ₂)²', () => {
    const r = frechetDistance(
      { mean: Float64Array.of(1.5), cov: Float64Array.of(4) },
      { mean: Float64Array.of(-0.5), cov: Float64Array.of(9) },
    );
    expect(r.value).toBeCloseTo(4 + 1, 12);
    expect(r.meanTerm).toBeCloseTo(4, 12);
  });

  it('commuting covariances Q diag(a) Qᵀ, Q diag(b) Qᵀ: tr √(Σ₁Σ₂) = Σ √(aᵢbᵢ), both methods', () => {
    const n = 30;
    const q = randomOrthogonal(n, 11);
    const a = Array.from({ length: n }, (_, i) => 0.2 + ((i * 7) % 11));
    const mu1 = randn(n, 12);
    const mu2 = randn(n, 13);
    // b regular, then singular: at a zero eigenvalue √ turns rounding noise ε‖Σ‖ into √(ε‖Σ‖) ≈ 1e-7,
    // the conditioning of the quantity itself (scipy's sqrtm has it too), hence the looser bound.
    for (const [zero, tol] of [
      [0.01, 1e-10],
      [0, 1e-7],
    ] as const) {
      const b = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? zero : 0.5 + ((i * 5) % 7)));
      let expected = 0;
      for (let i = 0; i < n; i++) expected += (mu1[i]! - mu2[i]!) ** 2 + (Math.sqrt(a[i]!) - Math.sqrt(b[i]!)) ** 2;
      for (const method of ['cholesky', 'eigh'] as const) {
        const r = frechetDistance(
          { mean: mu1, cov: withSpectrum(q, a, n) },
          { mean: mu2, cov: withSpectrum(q, b, n) },
          method,
        );
        expect(Math.abs(r.value - expected) / expected).toBeLessThan(tol);
      }
    }
  });

  it('diagonal covariances with zeros on either side (singular Σ₁ for the pivoted Cholesky)', () => {
    const n = 12;
    const a = Array.from({ length: n }, (_, i) => (i < 5 ? 0 : i));
    const b = Array.from({ length: n }, (_, i) => (i % 2 ? 2 * i : 0));
    const diag = (v: number[]) => {
      const m = new Float64Array(n * n);
      v.forEach((x, i) => (m[i * n + i] = x));
      return m;
    };
    const expected = a.reduce((s, x, i) => s + Math.sqrt(x * b[i]!), 0);
    for (const method of ['cholesky', 'eigh'] as const) {
      expect(traceSqrtProduct(diag(a), diag(b), n, method)).toBeCloseTo(expected, 10);
    }
  });

  it('random SPD covariances: cholesky = eigh = Newton–Schulz reference', () => {
    for (const [n, seed] of [
      [16, 1],
      [41, 2],
    ] as const) {
      const s1 = randomSpd(n, n + 10, seed, 0.05);
      const s2 = randomSpd(n, 2 * n, seed + 100, 0.01);
      const a = sqrtNewtonSchulz(s1, n);
      const m = matmul(matmul(a, s2, n, n, n), a, n, n, n);
      const ref = traceOf(sqrtNewtonSchulz(m, n), n);
      const chol = traceSqrtProduct(s1, s2, n, 'cholesky');
      const eigh = traceSqrtProduct(s1, s2, n, 'eigh');
      expect(Math.abs(chol - ref) / ref).toBeLessThan(1e-11);
      expect(Math.abs(eigh - ref) / ref).toBeLessThan(1e-11);
    }
  });

  it('rank-deficient sample covariances (fewer samples than dimensions): both methods agree', () => {
    const n = 40;
    const s1 = randomSpd(n, 15, 21);
    const s2 = randomSpd(n, 25, 22);
    const chol = traceSqrtProduct(s1, s2, n, 'cholesky');
    const eigh = traceSqrtProduct(s1, s2, n, 'eigh');
    expect(Math.abs(chol - eigh) / eigh).toBeLessThan(1e-6);
  });

  it('identical Gaussians are at distance ~0; a bad matrix is refused by name', () => {
    const n = 10;
    const s = randomSpd(n, 20, 3, 0.1);
    const mu = randn(n, 4);
    expect(Math.abs(frechetDistance({ mean: mu, cov: s }, { mean: mu, cov: s }).value)).toBeLessThan(1e-10);
    const bad = Float64Array.from(s);
    bad[13] = NaN;
    expect(() => frechetDistance({ mean: mu, cov: s }, { mean: mu, cov: bad })).toThrow(
      /covariance 2: value at row 1, column 3 is NaN/,
    );
    expect(() => frechetDistance({ mean: mu, cov: s }, { mean: randn(3, 1), cov: s })).toThrow(
      /dimensions differ \(10 vs 3\)/,
    );
  });
});
