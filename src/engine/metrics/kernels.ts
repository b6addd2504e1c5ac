/**
 * The three heavy primitives behind KID and precision/recall, behind one interface so that the same
 * metric code runs on the CPU (float64, exact; tests and small feature spaces) or on the tfjs backend
 * (float32 matrix products on the GPU, only small results read back; see tfKernels.ts).
 */
import { gemmNT } from './linalg';
import type { FeatureMatrix } from './features';

export interface PolyKernel {
  /** k(x, y) = (gamma·x·y + coef0)^degree */
  gamma: number;
  coef0: number;
  degree: number;
}

export interface MetricKernels {
  readonly name: string;
  /** Σᵢⱼ k(xᵢ, yⱼ) over all pairs, and Σᵢ k(xᵢ, yᵢ) (the diagonal; meaningful when x and y are the same set). */
  polyKernelSums(x: FeatureMatrix, y: FeatureMatrix, k: PolyKernel): Promise<{ total: number; diagonal: number }>;
  /**
   * Squared distance from each row of x to its k-th nearest row of x, the row itself counted as the
   * 0-th (Kynkäänniemi et al.'s radii: the (k+1)-th smallest distance including the zero to itself).
   */
  kthNeighbourSq(x: FeatureMatrix, k: number): Promise<Float64Array>;
  /** For each row q of `queries`: 1 if some row r of `refs` has |q − r|² ≤ radiusSq[r], else 0. */
  covered(queries: FeatureMatrix, refs: FeatureMatrix, radiusSq: Float64Array): Promise<Uint8Array>;
}

function toF64(m: FeatureMatrix): Float64Array {
  return m.data instanceof Float64Array ? m.data : Float64Array.from(m.data);
}

function rowNormsSq(x: Float64Array, rows: number, dim: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[i * dim + j]! * x[i * dim + j]!;
    out[i] = s;
  }
  return out;
}

/** Rows of a query matrix processed per block: a block × refs Gram matrix is at most ~32 MB. */
function blockRows(refs: number): number {
  return Math.max(1, Math.min(1024, Math.floor(4_000_000 / Math.max(refs, 1))));
}

function checkDims(a: FeatureMatrix, b: FeatureMatrix): void {
  if (a.dim !== b.dim) throw new Error(`feature dimensions differ: ${a.dim} vs ${b.dim}`);
}

/** Float64 CPU implementation. */
export const cpuKernels: MetricKernels = {
  name: 'cpu-float64',
  async polyKernelSums(x, y, k) {
    checkDims(x, y);
    const g = gemmNT(toF64(x), x.rows, x.dim, toF64(y), y.rows);
    let total = 0;
    let diagonal = 0;
    for (let i = 0; i < x.rows; i++) {
      for (let j = 0; j < y.rows; j++) {
        const v = (k.gamma * g[i * y.rows + j]! + k.coef0) ** k.degree;
        total += v;
        if (i === j) diagonal += v;
      }
    }
    return { total, diagonal };
  },
  async kthNeighbourSq(x, k) {
    if (x.rows <= k) throw new Error(`k-NN radii need more than k = ${k} points, got ${x.rows}`);
    const xs = toF64(x);
    const norms = rowNormsSq(xs, x.rows, x.dim);
    const out = new Float64Array(x.rows);
    const best = new Float64Array(k + 1);
    const step = blockRows(x.rows);
    for (let b0 = 0; b0 < x.rows; b0 += step) {
      const rows = Math.min(step, x.rows - b0);
      const g = gemmNT(xs.subarray(b0 * x.dim, (b0 + rows) * x.dim), rows, x.dim, xs, x.rows);
      for (let i = 0; i < rows; i++) {
        best.fill(Infinity);
        const ni = norms[b0 + i]!;
        for (let j = 0; j < x.rows; j++) {
          const d = j === b0 + i ? 0 : Math.max(ni + norms[j]! - 2 * g[i * x.rows + j]!, 0);
          if (d < best[k]!) {
            // insertion into the sorted k+1 smallest
            let p = k;
            while (p > 0 && best[p - 1]! > d) {
              best[p] = best[p - 1]!;
              p--;
            }
            best[p] = d;
          }
        }
        out[b0 + i] = best[k]!;
      }
    }
    return out;
  },
  async covered(queries, refs, radiusSq) {
    checkDims(queries, refs);
    if (radiusSq.length !== refs.rows) throw new Error(`covered: ${radiusSq.length} radii for ${refs.rows} reference rows`);
    const q = toF64(queries);
    const r = toF64(refs);
    const qn = rowNormsSq(q, queries.rows, queries.dim);
    const rn = rowNormsSq(r, refs.rows, refs.dim);
    const out = new Uint8Array(queries.rows);
    const step = blockRows(refs.rows);
    for (let b0 = 0; b0 < queries.rows; b0 += step) {
      const rows = Math.min(step, queries.rows - b0);
      const g = gemmNT(q.subarray(b0 * queries.dim, (b0 + rows) * queries.dim), rows, queries.dim, r, refs.rows);
      for (let i = 0; i < rows; i++) {
        const ni = qn[b0 + i]!;
        for (let j = 0; j < refs.rows; j++) {
          if (Math.max(ni + rn[j]! - 2 * g[i * refs.rows + j]!, 0) <= radiusSq[j]!) {
            out[b0 + i] = 1;
            break;
          }
        }
      }
    }
    return out;
  },
};
