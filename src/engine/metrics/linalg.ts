/**
 * Dense float64 linear algebra for the metrics (plain TS, CPU): row-major square or rectangular
 * matrices in Float64Array. Sized for 2048×2048 covariances: the products are blocked so that a
 * row pair of each operand stays in cache, and the symmetric eigensolver works on contiguous rows.
 */

/** C (m×n) = A (m×k) · Bᵀ, B given as n×k (rows of both operands are contiguous). */
export interface GemmOptions {
  /** The result is symmetric (A = B): compute the upper triangle and mirror it. */
  symmetric?: boolean;
  /** Row r of A is zero before column r (an upper-trapezoidal A, e.g. Lᵀ of a Cholesky factor). */
  aUpper?: boolean;
  /** Row r of B is zero before column r. */
  bUpper?: boolean;
}

export function gemmNT(
  a: Float64Array,
  m: number,
  k: number,
  b: Float64Array,
  n: number,
  opts: GemmOptions = {},
): Float64Array {
  const { symmetric = false, aUpper = false, bUpper = false } = opts;
  if (a.length < m * k || b.length < n * k) throw new Error(`gemmNT: operands smaller than ${m}x${k} and ${n}x${k}`);
  const c = new Float64Array(m * n);
  // Panels of K keep a 2×2 block's four row segments (and the 2 rows of A reused across all j) in L1/L2.
  const KB = 512;
  for (let p0 = 0; p0 < k; p0 += KB) {
    const p1 = Math.min(k, p0 + KB);
    for (let i = 0; i < m; i += 2) {
      const i1 = Math.min(i + 1, m - 1);
      const ra = i * k;
      const rb = i1 * k;
      for (let j = symmetric ? i - (i % 2) : 0; j < n; j += 2) {
        const j1 = Math.min(j + 1, n - 1);
        const sa = j * k;
        const sb = j1 * k;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        const pStart = Math.max(p0, aUpper ? i : 0, bUpper ? j : 0);
        for (let p = pStart; p < p1; p++) {
          const a0 = a[ra + p]!;
          const a1 = a[rb + p]!;
          const b0 = b[sa + p]!;
          const b1 = b[sb + p]!;
          s00 += a0 * b0;
          s01 += a0 * b1;
          s10 += a1 * b0;
          s11 += a1 * b1;
        }
        c[i * n + j] = c[i * n + j]! + s00;
        if (j1 !== j) c[i * n + j1] = c[i * n + j1]! + s01;
        if (i1 !== i) {
          c[i1 * n + j] = c[i1 * n + j]! + s10;
          if (j1 !== j) c[i1 * n + j1] = c[i1 * n + j1]! + s11;
        }
      }
    }
  }
  if (symmetric) {
    for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) c[i * n + j] = c[j * n + i]!;
  }
  return c;
}

export function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

export function trace(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i * n + i]!;
  return s;
}

/** (A + Aᵀ)/2 in place: products of symmetric matrices drift from symmetry by rounding. */
export function symmetrize(a: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (a[i * n + j]! + a[j * n + i]!);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

export function assertSquare(a: Float64Array, n: number, what: string): void {
  if (!Number.isInteger(n) || n <= 0 || a.length !== n * n) {
    throw new Error(`${what}: expected a ${n}x${n} matrix (${n * n} values), got ${a.length} values`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!))
      throw new Error(`${what}: value at row ${Math.floor(i / n)}, column ${i % n} is ${a[i]}`);
  }
}

interface Tridiagonal {
  /** Diagonal. */
  d: Float64Array;
  /** e[i] couples d[i] and d[i+1]; e[n-1] = 0. */
  e: Float64Array;
  /** Qᵀ, rows = the orthonormal basis in which A is tridiagonal (only when asked for). */
  qt?: Float64Array;
}

/**
 * Householder reduction of a symmetric matrix to tridiagonal form T = Qᵀ A Q. Only the lower
 * triangle of `a` is read, and it is overwritten. Each step's rank-2 update is applied lazily, in the
 * same pass over the trailing block as the next step's matrix-vector product, so the block is read
 * and written once per step (the reduction is bound by memory traffic, not flops).
 */
function tridiagonalize(a: Float64Array, n: number, wantQ: boolean): Tridiagonal {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const vs: Float64Array[] = [];
  const betas: number[] = [];
  // Pending update A -= v wᵀ + w vᵀ over indices ≥ k (the previous step's block), vectors indexed from k.
  let pv: Float64Array | null = null;
  let pw: Float64Array | null = null;
  for (let k = 0; k < n - 2; k++) {
    const o = k + 1;
    const m = n - o;
    if (pv && pw) {
      const v0 = pv[0]!;
      const w0 = pw[0]!;
      for (let i = k; i < n; i++) a[i * n + k] = a[i * n + k]! - pv[i - k]! * w0 - pw[i - k]! * v0;
    }
    d[k] = a[k * n + k]!;
    const v = new Float64Array(m);
    let norm2 = 0;
    for (let i = 0; i < m; i++) {
      const x = a[(o + i) * n + k]!;
      v[i] = x;
      norm2 += x * x;
    }
    const x0 = v[0]!;
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    v[0] = x0 - alpha;
    const vv = norm2 - x0 * x0 + v[0]! * v[0]!;
    const beta = norm2 === 0 || vv === 0 ? 0 : 2 / vv;
    e[k] = beta === 0 ? x0 : alpha;
    const p = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const row = (o + i) * n + o;
      const vi = v[i]!;
      let s = 0;
      if (pv && pw) {
        // pending vectors are indexed from k = o - 1
        const pvi = pv[i + 1]!;
        const pwi = pw[i + 1]!;
        for (let j = 0; j < i; j++) {
          const aij = a[row + j]! - pvi * pw[j + 1]! - pwi * pv[j + 1]!;
          a[row + j] = aij;
          s += aij * v[j]!;
          p[j] = p[j]! + aij * vi;
        }
        const aii = a[row + i]! - 2 * pvi * pwi;
        a[row + i] = aii;
        p[i] = p[i]! + s + aii * vi;
      } else {
        for (let j = 0; j < i; j++) {
          const aij = a[row + j]!;
          s += aij * v[j]!;
          p[j] = p[j]! + aij * vi;
        }
        p[i] = p[i]! + s + a[row + i]! * vi;
      }
    }
    if (wantQ) {
      vs.push(v);
      betas.push(beta);
    }
    if (beta === 0) {
      pv = pw = null;
      continue;
    }
    let vp = 0;
    for (let i = 0; i < m; i++) vp += v[i]! * p[i]!;
    const kk = 0.5 * beta * beta * vp;
    for (let i = 0; i < m; i++) p[i] = beta * p[i]! - kk * v[i]!; // w = βSv − ½β²(vᵀSv)v
    pv = v;
    pw = p;
  }
  const last = Math.max(n - 2, 0);
  if (pv && pw) {
    for (let i = last; i < n; i++) {
      for (let j = last; j <= i; j++) {
        a[i * n + j] = a[i * n + j]! - pv[i - last]! * pw[j - last]! - pw[i - last]! * pv[j - last]!;
      }
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2]!;
    e[n - 2] = a[(n - 1) * n + n - 2]!;
  }
  d[n - 1] = a[(n - 1) * n + n - 1]!;
  e[n - 1] = 0;
  if (!wantQ) return { d, e };
  // Q = H_0 H_1 ... H_{n-3}, built from the right so each step touches only its trailing block.
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const w = new Float64Array(n);
  for (let k = vs.length - 1; k >= 0; k--) {
    const v = vs[k]!;
    const beta = betas[k]!;
    if (beta === 0) continue;
    const o = k + 1;
    const m = n - o;
    w.fill(0, 0, m);
    for (let i = 0; i < m; i++) {
      const vi = v[i]!;
      if (vi === 0) continue;
      const row = (o + i) * n + o;
      for (let j = 0; j < m; j++) w[j] = w[j]! + vi * q[row + j]!;
    }
    for (let i = 0; i < m; i++) {
      const f = beta * v[i]!;
      if (f === 0) continue;
      const row = (o + i) * n + o;
      for (let j = 0; j < m; j++) q[row + j] = q[row + j]! - f * w[j]!;
    }
  }
  return { d, e, qt: transpose(q, n, n) };
}

/**
 * Eigenvalues (in d) of a symmetric tridiagonal matrix by the implicit QL method with Wilkinson-like
 * shifts; when `zt` is given, its rows (a basis) are rotated along so they end as the eigenvectors.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, n: number, zt?: Float64Array): void {
  // A sub-diagonal counts as zero below eps·(largest |d|+|e| seen so far), as EISPACK's tql2: a test
  // relative to the two neighbours alone stalls on clusters of small eigenvalues next to large ones,
  // whose off-diagonals sit at the rounding noise of the large ones.
  let norm = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    norm = Math.max(norm, Math.abs(d[l]!) + Math.abs(e[l]!));
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) if (Math.abs(e[m]!) <= Number.EPSILON * norm) break;
      if (m === l) break;
      if (++iter > 60) throw new Error(`symmetric eigensolver: no convergence for eigenvalue ${l} after 60 QL sweeps`);
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let early = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = d[i + 1]! - p;
          e[m] = 0;
          early = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (zt) {
          const r0 = i * n;
          const r1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const z1 = zt[r1 + k]!;
            const z0 = zt[r0 + k]!;
            zt[r1 + k] = s * z0 + c * z1;
            zt[r0 + k] = c * z0 - s * z1;
          }
        }
      }
      if (early) continue;
      d[l] = d[l]! - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Eigenvalues of a symmetric n×n matrix (unsorted). `a` is not modified. */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const t = tridiagonalize(Float64Array.from(a), n, false);
  tridiagonalQL(t.d, t.e, n);
  return t.d;
}

/** Eigen-decomposition of a symmetric matrix: values[i] with eigenvector row i of `vectors` (n×n). */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const t = tridiagonalize(Float64Array.from(a), n, true);
  tridiagonalQL(t.d, t.e, n, t.qt);
  return { values: t.d, vectors: t.qt! };
}

/** The PSD square root Z·diag(√max(λ,0))·Zᵀ of a symmetric matrix. */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  // W = diag(λ^¼) Zᵀ-rows; sqrt(A) = Wᵀ W, i.e. dot products of W's columns = rows of Wᵀ.
  const w = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const f = Math.sqrt(Math.sqrt(Math.max(values[k]!, 0)));
    for (let j = 0; j < n; j++) w[k * n + j] = f * vectors[k * n + j]!;
  }
  const wt = transpose(w, n, n);
  return gemmNT(wt, n, n, wt, n, { symmetric: true });
}

/**
 * Pivoted Cholesky of a symmetric positive semidefinite matrix: P A Pᵀ ≈ L Lᵀ with L n×r, stopping
 * at rank r once the largest remaining pivot is ≤ tol·(largest diagonal). Covariances of fewer
 * samples than dimensions are singular, where plain Cholesky would fail. Returns Lᵀ (r×n, row j =
 * column j of L, zero before position j) and the permutation (position → original index).
 */
export function pivotedCholesky(
  a: Float64Array,
  n: number,
  tol = n * Number.EPSILON,
): { lt: Float64Array; rank: number; perm: Int32Array } {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const diag = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    diag[i] = a[i * n + i]!;
    maxDiag = Math.max(maxDiag, diag[i]!);
  }
  // Rows of L by position, built column by column (left-looking): row p holds L[p, 0..j).
  const l = new Float64Array(n * n);
  let rank = 0;
  const stop = tol * maxDiag;
  for (let j = 0; j < n; j++) {
    let piv = j;
    for (let i = j + 1; i < n; i++) if (diag[i]! > diag[piv]!) piv = i;
    if (!(diag[piv]! > stop)) break;
    if (piv !== j) {
      [perm[j], perm[piv]] = [perm[piv]!, perm[j]!];
      [diag[j], diag[piv]] = [diag[piv]!, diag[j]!];
      const rj = j * n;
      const rp = piv * n;
      for (let k = 0; k < j; k++) {
        const t = l[rj + k]!;
        l[rj + k] = l[rp + k]!;
        l[rp + k] = t;
      }
    }
    const ljj = Math.sqrt(diag[j]!);
    l[j * n + j] = ljj;
    const rj = j * n;
    const colJ = perm[j]! * n;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s0 = 0;
      let s1 = 0;
      let k = 0;
      for (; k + 1 < j; k += 2) {
        s0 += l[ri + k]! * l[rj + k]!;
        s1 += l[ri + k + 1]! * l[rj + k + 1]!;
      }
      if (k < j) s0 += l[ri + k]! * l[rj + k]!;
      const v = (a[colJ + perm[i]!]! - s0 - s1) / ljj;
      l[ri + j] = v;
      diag[i] = diag[i]! - v * v;
    }
    rank = j + 1;
  }
  return { lt: transpose(l, n, n).subarray(0, rank * n), rank, perm };
}
