/** Deterministic random matrices for the metric tests (float64, row-major). */
import { Rng } from '../../../src/engine/rng';

export function randn(n: number, seed: number): Float64Array {
  return Float64Array.from(Rng.keyed(seed, 31).normal(n));
}

/** Plain triple-loop A·B (n×k times k×m): the tests' reference product. */
export function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < m; j++) c[i * m + j]! += a[i * k + p]! * b[p * m + j]!;
  return c;
}

export function transposed(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/** G Gᵀ/k (+ ridge·I): a random symmetric PSD matrix of rank min(n, k) (+ ridge). */
export function randomSpd(n: number, k: number, seed: number, ridge = 0): Float64Array {
  const g = randn(n * k, seed);
  const s = matmul(g, transposed(g, n, k), n, k, n);
  for (let i = 0; i < n * n; i++) s[i] = s[i]! / k;
  for (let i = 0; i < n; i++) s[i * n + i]! += ridge;
  return s;
}

/** A random orthogonal matrix by modified Gram–Schmidt on a Gaussian matrix (independent of the code under test). */
export function randomOrthogonal(n: number, seed: number): Float64Array {
  const q = randn(n * n, seed); // rows orthonormalised in turn
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let p = 0; p < n; p++) dot += q[i * n + p]! * q[j * n + p]!;
      for (let p = 0; p < n; p++) q[i * n + p]! -= dot * q[j * n + p]!;
    }
    let norm = 0;
    for (let p = 0; p < n; p++) norm += q[i * n + p]! ** 2;
    norm = Math.sqrt(norm);
    for (let p = 0; p < n; p++) q[i * n + p]! /= norm;
  }
  return q;
}

/** Q diag(λ) Qᵀ */
export function withSpectrum(q: Float64Array, lambda: ArrayLike<number>, n: number): Float64Array {
  const ql = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ql[i * n + j] = q[i * n + j]! * lambda[j]!;
  return matmul(ql, transposed(q, n, n), n, n, n);
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
