/**
 * The three heavy primitives behind KID and precision/recall, behind one interface so that the same
 * metric code runs on the CPU (float64, exact; tests and small feature spaces) or on the tfjs backend
 * (float32 matrix products on the GPU, only small results read back; see tfKernels.ts).
 */
import { gemmNT } from './linalg';
import { gatherRows, type FeatureMatrix } from './features';

export interface SubsetPair {
  xi: Int32Array;
  yi: Int32Array;
}

/** Kernel sums of one subset pair: Σᵢⱼ k over all pairs and Σᵢ k(xᵢ, xᵢ) over the diagonal. */
export interface KernelSums {
  xxTotal: number;
  xxDiagonal: number;
  yyTotal: number;
  yyDiagonal: number;
  xyTotal: number;
}

/** Unbiased MMD²: off-diagonal means within each set minus twice the mean across (Gretton et al. 2012). */
export function mmd2FromSums(s: KernelSums, m: number): number {
  return (
    (s.xxTotal - s.xxDiagonal) / (m * (m - 1)) + (s.yyTotal - s.yyDiagonal) / (m * (m - 1)) - (2 * s.xyTotal) / (m * m)
  );
}

/** k(xᵢ, xᵢ) summed over rows `idx` of x, in float64. */
export function diagonalSum(x: FeatureMatrix, idx: Int32Array, k: PolyKernel): number {
  let s = 0;
  for (const i of idx) {
    let dot = 0;
    for (let j = 0; j < x.dim; j++) dot += x.data[i * x.dim + j]! * x.data[i * x.dim + j]!;
    s += (k.gamma * dot + k.coef0) ** k.degree;
  }
  return s;
}

export function checkSubsets(x: FeatureMatrix, y: FeatureMatrix, subsets: SubsetPair[]): number {
  if (x.dim !== y.dim) throw new Error(`feature dimensions differ: ${x.dim} vs ${y.dim}`);
  const m = subsets[0]?.xi.length ?? 0;
  for (const { xi, yi } of subsets) {
    if (xi.length !== m || yi.length !== m || m < 2)
      throw new Error(`MMD²: subsets must all have the same size ≥ 2, got ${xi.length} and ${yi.length}`);
    for (const i of xi)
      if (!(i >= 0 && i < x.rows)) throw new Error(`MMD²: row ${i} is outside the first set (${x.rows} rows)`);
    for (const i of yi)
      if (!(i >= 0 && i < y.rows)) throw new Error(`MMD²: row ${i} is outside the second set (${y.rows} rows)`);
  }
  return m;
}

export interface PolyKernel {
  /** k(x, y) = (gamma·x·y + coef0)^degree */
  gamma: number;
  coef0: number;
  degree: number;
}

export interface MetricKernels {
  readonly name: string;
  /**
   * The unbiased MMD² (see mmd2FromSums) between rows `xi` of x and rows `yi` of y, for each subset
   * pair (equal sizes m ≥ 2). Both sets are handed over whole so a device implementation uploads them once.
   */
  mmd2Subsets(x: FeatureMatrix, y: FeatureMatrix, subsets: SubsetPair[], k: PolyKernel): Promise<number[]>;
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
  async mmd2Subsets(x, y, subsets, k) {
    const m = checkSubsets(x, y, subsets);
    const sum = (a: Float64Array, b: Float64Array) => {
      const g = gemmNT(a, m, x.dim, b, m);
      let t = 0;
      for (let i = 0; i < g.length; i++) t += (k.gamma * g[i]! + k.coef0) ** k.degree;
      return t;
    };
    return subsets.map(({ xi, yi }) => {
      const xs = toF64(gatherRows(x, xi));
      const ys = toF64(gatherRows(y, yi));
      return mmd2FromSums(
        {
          xxTotal: sum(xs, xs),
          xxDiagonal: diagonalSum(x, xi, k),
          yyTotal: sum(ys, ys),
          yyDiagonal: diagonalSum(y, yi, k),
          xyTotal: sum(xs, ys),
        },
        m,
      );
    });
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
    if (radiusSq.length !== refs.rows)
      throw new Error(`covered: ${radiusSq.length} radii for ${refs.rows} reference rows`);
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
