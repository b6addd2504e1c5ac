/**
 * The metrics' heavy primitives on the active tfjs backend (the GPU under webgpu): float32 matrix
 * products in blocks of rows, reduced on the device so only small results come back — row sums of
 * the KID kernel matrix, the k-th neighbour distance per row, a covered/not flag per row — and the
 * feature moments for FID accumulated on the device between read-backs.
 */
import { tf } from '../tf';
import type { FeatureMatrix } from './features';
import { checkSubsets, diagonalSum, mmd2FromSums, type MetricKernels } from './kernels';
import type { GaussianAccumulator } from './stats';

/** Rows per block so a block × refs float32 matrix stays near 64 MB. */
function blockRows(refs: number): number {
  return Math.max(1, Math.min(4096, Math.floor(16_000_000 / Math.max(refs, 1))));
}

function upload(m: FeatureMatrix): tf.Tensor2D {
  return tf.tensor2d(m.data instanceof Float32Array ? m.data : Float32Array.from(m.data), [m.rows, m.dim]);
}

/** |a − b|² for every row pair of a block [B, d] and refs [N, d] with row norms, clamped at 0 (rounding). */
function sqDist(a: tf.Tensor2D, refs: tf.Tensor2D, refNorms: tf.Tensor1D): tf.Tensor2D {
  const an = tf.sum(tf.square(a), 1, true);
  return tf.relu(tf.sub(tf.add(an, refNorms), tf.mul(tf.matMul(a, refs, false, true), 2))) as tf.Tensor2D;
}

export const tfKernels: MetricKernels = {
  name: 'tfjs-float32',
  async mmd2Subsets(x, y, subsets, k) {
    const m = checkSubsets(x, y, subsets);
    const [xt, yt] = [upload(x), upload(y)];
    // Σ over a subset pair's kernel matrix: row sums on the device, their sum in float64 here
    const total = async (a: tf.Tensor2D, b: tf.Tensor2D) => {
      const rows = tf.tidy(() =>
        tf.sum(tf.pow(tf.add(tf.mul(tf.matMul(a, b, false, true), k.gamma), k.coef0), k.degree), 1),
      );
      let t = 0;
      for (const v of await rows.data()) t += v;
      rows.dispose();
      return t;
    };
    const out: number[] = [];
    try {
      for (const { xi, yi } of subsets) {
        const xs = tf.tidy(() => tf.gather(xt, tf.tensor1d(xi, 'int32')));
        const ys = tf.tidy(() => tf.gather(yt, tf.tensor1d(yi, 'int32')));
        const sums = { xxTotal: await total(xs, xs), yyTotal: await total(ys, ys), xyTotal: await total(xs, ys) };
        tf.dispose([xs, ys]);
        out.push(mmd2FromSums({ ...sums, xxDiagonal: diagonalSum(x, xi, k), yyDiagonal: diagonalSum(y, yi, k) }, m));
      }
    } finally {
      tf.dispose([xt, yt]);
    }
    return out;
  },

  async kthNeighbourSq(x, k) {
    if (x.rows <= k) throw new Error(`k-NN radii need more than k = ${k} points, got ${x.rows}`);
    const xt = upload(x);
    const norms = tf.tidy(() => tf.sum(tf.square(xt), 1));
    const out = new Float64Array(x.rows);
    const step = blockRows(x.rows);
    for (let b0 = 0; b0 < x.rows; b0 += step) {
      const rows = Math.min(step, x.rows - b0);
      const kth = tf.tidy(() => {
        const d = sqDist(tf.slice(xt, [b0, 0], [rows, x.dim]), xt, norms as tf.Tensor1D);
        // a point's distance to itself is 0, not the rounding residue of |x|² + |x|² − 2x·x
        const self = tf.oneHot(tf.range(b0, b0 + rows, 1, 'int32'), x.rows);
        const masked = tf.mul(d, tf.sub(1, self));
        return tf.slice(tf.neg(tf.topk(tf.neg(masked), k + 1, true).values), [0, k], [rows, 1]);
      });
      out.set(await kth.data(), b0);
      kth.dispose();
    }
    tf.dispose([xt, norms]);
    return out;
  },

  async covered(queries, refs, radiusSq) {
    if (queries.dim !== refs.dim) throw new Error(`feature dimensions differ: ${queries.dim} vs ${refs.dim}`);
    if (radiusSq.length !== refs.rows)
      throw new Error(`covered: ${radiusSq.length} radii for ${refs.rows} reference rows`);
    const [qt, rt] = [upload(queries), upload(refs)];
    const rn = tf.tidy(() => tf.sum(tf.square(rt), 1) as tf.Tensor1D);
    const r2 = tf.tensor1d(Float32Array.from(radiusSq));
    const out = new Uint8Array(queries.rows);
    const step = blockRows(refs.rows);
    for (let b0 = 0; b0 < queries.rows; b0 += step) {
      const rows = Math.min(step, queries.rows - b0);
      const hit = tf.tidy(() =>
        tf.any(tf.lessEqual(sqDist(tf.slice(qt, [b0, 0], [rows, queries.dim]), rt, rn), r2), 1),
      );
      out.set(await hit.data(), b0);
      hit.dispose();
    }
    tf.dispose([qt, rt, rn, r2]);
    return out;
  },
};

/**
 * Accumulates Σ(x − s) and Σ(x − s)(x − s)ᵀ of feature batches on the device (float32, a matrix
 * product per batch) and adds them to a float64 GaussianAccumulator every `flushRows` rows, so that
 * the d×d read-back (16 MB at d = 2048) happens a few times per 10,000 images, not per batch.
 */
export class TfMomentAccumulator {
  private shift: tf.Tensor1D | null = null;
  private sum: tf.Tensor1D | null = null;
  private prod: tf.Tensor2D | null = null;
  private pending = 0;

  constructor(
    readonly target: GaussianAccumulator,
    readonly flushRows = 2048,
  ) {}

  /** Adds a [n, dim] batch (not disposed: the caller owns it). */
  async add(features: tf.Tensor2D): Promise<void> {
    const [n, d] = features.shape;
    if (d !== this.target.dim)
      throw new Error(`feature statistics: batch has ${d} features, expected ${this.target.dim}`);
    if (n === 0) return;
    if (!this.shift) {
      const s = this.target.shift() ?? this.target.fixShift(await features.data(), n);
      this.shift = tf.tensor1d(Float32Array.from(s));
    }
    const shift = this.shift;
    const [sum, prod] = tf.tidy(() => {
      const xc = tf.sub(features, shift);
      const s = tf.sum(xc, 0) as tf.Tensor1D;
      const p = tf.matMul(xc, xc, true, false);
      return [this.sum ? tf.add(this.sum, s) : s, this.prod ? tf.add(this.prod, p) : p] as [tf.Tensor1D, tf.Tensor2D];
    });
    this.sum?.dispose();
    this.prod?.dispose();
    this.sum = sum;
    this.prod = prod;
    this.pending += n;
    if (this.pending >= this.flushRows) await this.flush();
  }

  /** Moves what is on the device into the float64 accumulator. */
  async flush(): Promise<void> {
    if (!this.sum || !this.prod || this.pending === 0) return;
    const [s, p] = await Promise.all([this.sum.data(), this.prod.data()]);
    this.target.addMoments(this.pending, s, p);
    tf.dispose([this.sum, this.prod]);
    this.sum = this.prod = null;
    this.pending = 0;
  }

  dispose(): void {
    for (const t of [this.shift, this.sum, this.prod]) t?.dispose();
    this.shift = this.sum = this.prod = null;
  }
}
