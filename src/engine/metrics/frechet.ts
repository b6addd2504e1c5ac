/**
 * The Fréchet distance between two Gaussians, FID's formula:
 *   d² = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂).
 * pytorch-fid takes scipy's sqrtm of the non-symmetric product Σ₁Σ₂. Σ₁Σ₂ is similar to a symmetric
 * PSD matrix whenever both are PSD, so tr √(Σ₁Σ₂) is the sum of square roots of that matrix's
 * eigenvalues, which a symmetric eigensolver finds stably:
 *   'cholesky' (default): Σ₁ = L Lᵀ (pivoted, so singular Σ₁ works), eig(Lᵀ Σ₂ L), ~3n³ flops;
 *   'eigh': A = √Σ₁ by eigendecomposition, eig(A Σ₂ A), ~4× the work; kept as a cross-check.
 */
import { assertSquare, gemmNT, pivotedCholesky, sqrtPsd, symmetricEigenvalues, symmetrize, trace } from './linalg';

export interface Gaussian {
  mean: Float64Array;
  /** Row-major d×d covariance. */
  cov: Float64Array;
}

export type SqrtMethod = 'cholesky' | 'eigh';

/** Σ √max(λ, 0) over the eigenvalues λ of a symmetric PSD matrix (rounding can make tiny λ negative). */
function sumSqrtEigenvalues(m: Float64Array, n: number): number {
  const lambda = symmetricEigenvalues(symmetrize(m, n), n);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.sqrt(Math.max(lambda[i]!, 0));
  return s;
}

/** tr √(Σ₁Σ₂) for symmetric PSD Σ₁, Σ₂ (n×n, row-major). */
export function traceSqrtProduct(
  s1: Float64Array,
  s2: Float64Array,
  n: number,
  method: SqrtMethod = 'cholesky',
): number {
  assertSquare(s1, n, 'covariance 1');
  assertSquare(s2, n, 'covariance 2');
  if (method === 'eigh') {
    const a = sqrtPsd(s1, n);
    const c = gemmNT(a, n, n, s2, n); // A Σ₂ (Σ₂ symmetric, so its rows are its columns)
    return sumSqrtEigenvalues(gemmNT(c, n, n, a, n), n);
  }
  const { lt, rank, perm } = pivotedCholesky(s1, n);
  if (rank === 0) return 0;
  const b = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const src = perm[i]! * n;
    for (let k = 0; k < n; k++) b[i * n + k] = s2[src + perm[k]!]!;
  }
  const c = gemmNT(lt, rank, n, b, n, { aUpper: true }); // Lᵀ PΣ₂Pᵀ  (rank×n)
  return sumSqrtEigenvalues(gemmNT(c, rank, n, lt, rank, { symmetric: true, bUpper: true }), rank);
}

export interface FrechetResult {
  /** The distance d² (what papers call FID). */
  value: number;
  meanTerm: number;
  traceTerm: number;
}

export function frechetDistance(a: Gaussian, b: Gaussian, method: SqrtMethod = 'cholesky'): FrechetResult {
  const n = a.mean.length;
  if (b.mean.length !== n) throw new Error(`frechetDistance: feature dimensions differ (${n} vs ${b.mean.length})`);
  let meanTerm = 0;
  for (let i = 0; i < n; i++) {
    const d = a.mean[i]! - b.mean[i]!;
    if (!Number.isFinite(d)) throw new Error(`frechetDistance: mean ${i} is not finite (${a.mean[i]}, ${b.mean[i]})`);
    meanTerm += d * d;
  }
  const tr = traceSqrtProduct(a.cov, b.cov, n, method);
  const traceTerm = trace(a.cov, n) + trace(b.cov, n) - 2 * tr;
  return { value: meanTerm + traceTerm, meanTerm, traceTerm };
}
