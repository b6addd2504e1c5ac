/**
 * Streaming statistics of a feature set: the Gaussian (mean, covariance) that FID needs, accumulated
 * batch by batch in float64, and a fixed-size uniform subsample of the feature vectors themselves for
 * KID and precision/recall (which need the points, not moments). 50,000 × 2048 features never need
 * to be held: the moments take d² doubles (32 MB at d = 2048), the subsample `capacity`·d floats.
 */
import { Rng } from '../rng';
import { gemmNT, symmetrize } from './linalg';
import type { Gaussian } from './frechet';
import type { FeatureMatrix } from './features';

/**
 * Sums of the features and of their outer products, both taken about a fixed shift (the first
 * batch's mean): the textbook Σxxᵀ − n μμᵀ loses digits when |μ| ≫ σ, shifted sums do not.
 * Covariance with the n − 1 denominator, as numpy.cov (pytorch-fid) uses.
 */
export class GaussianAccumulator {
  private sum: Float64Array;
  private prod: Float64Array;
  private shiftVec: Float64Array | null = null;
  count = 0;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`feature statistics: bad dimension ${dim}`);
    this.sum = new Float64Array(dim);
    this.prod = new Float64Array(dim * dim);
  }

  /** The shift the sums are taken about; fixed by the first batch (GPU accumulators must use it too). */
  shift(): Float64Array | null {
    return this.shiftVec;
  }

  /** Fixes the shift from a first batch (its mean) if not fixed yet; returns it. */
  fixShift(batch: ArrayLike<number>, rows: number): Float64Array {
    if (this.shiftVec) return this.shiftVec;
    const d = this.dim;
    if (rows < 1 || batch.length !== rows * d)
      throw new Error(`feature statistics: expected ${rows}x${d} values, got ${batch.length}`);
    const s = new Float64Array(d);
    for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) s[j] = s[j]! + batch[r * d + j]!;
    for (let j = 0; j < d; j++) s[j] = s[j]! / rows;
    this.shiftVec = s;
    return s;
  }

  /** Adds `rows` feature vectors (rows × dim, row-major). */
  add(batch: ArrayLike<number>, rows: number): void {
    const d = this.dim;
    if (batch.length !== rows * d)
      throw new Error(`feature statistics: expected ${rows}x${d} values, got ${batch.length}`);
    if (rows === 0) return;
    const shift = this.fixShift(batch, rows);
    // Centred batch, transposed (d × rows) so that Xcᵀ Xc is a product of contiguous rows.
    const xt = new Float64Array(d * rows);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) {
        const v = batch[r * d + j]! - shift[j]!;
        if (!Number.isFinite(v))
          throw new Error(`feature statistics: value ${j} of row ${this.count + r} is ${batch[r * d + j]}`);
        xt[j * rows + r] = v;
        this.sum[j] = this.sum[j]! + v;
      }
    }
    const p = gemmNT(xt, d, rows, xt, d, { symmetric: true });
    for (let i = 0; i < p.length; i++) this.prod[i] = this.prod[i]! + p[i]!;
    this.count += rows;
  }

  /**
   * Adds moments computed elsewhere (e.g. on the GPU) about this accumulator's shift: `sum` = Σ(x − s),
   * `prod` = Σ(x − s)(x − s)ᵀ over `rows` vectors.
   */
  addMoments(rows: number, sum: ArrayLike<number>, prod: ArrayLike<number>): void {
    const d = this.dim;
    if (!this.shiftVec) throw new Error('feature statistics: fix the shift (fixShift) before adding moments');
    if (sum.length !== d || prod.length !== d * d)
      throw new Error(`feature statistics: moments of the wrong size for d = ${d}`);
    for (let j = 0; j < d; j++) this.sum[j] = this.sum[j]! + sum[j]!;
    for (let i = 0; i < d * d; i++) this.prod[i] = this.prod[i]! + prod[i]!;
    this.count += rows;
  }

  finish(): Gaussian & { count: number } {
    const n = this.count;
    const d = this.dim;
    if (n < 2) throw new Error(`feature statistics: a covariance needs at least 2 samples, got ${n}`);
    const shift = this.shiftVec!;
    const mean = new Float64Array(d);
    const c = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      c[j] = this.sum[j]! / n;
      mean[j] = shift[j]! + c[j]!;
    }
    const cov = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) cov[i * d + j] = (this.prod[i * d + j]! - n * c[i]! * c[j]!) / (n - 1);
    }
    return { mean, cov: symmetrize(cov, d), count: n };
  }
}

/**
 * A uniform random subsample of at most `capacity` feature vectors from a stream (reservoir
 * sampling, Algorithm R), reproducible from `seed`. Sets with ≤ capacity vectors are kept whole and
 * in order.
 */
export class FeatureReservoir {
  private data: Float32Array;
  private seen = 0;
  private readonly rng: Rng;

  constructor(
    readonly dim: number,
    readonly capacity: number,
    seed = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`feature subsample: capacity must be ≥ 1, got ${capacity}`);
    this.data = new Float32Array(Math.min(capacity, 4096) * dim);
    this.rng = Rng.keyed(seed, 0x7e5e);
  }

  add(batch: ArrayLike<number>, rows: number): void {
    const d = this.dim;
    if (batch.length !== rows * d)
      throw new Error(`feature subsample: expected ${rows}x${d} values, got ${batch.length}`);
    for (let r = 0; r < rows; r++) {
      let slot: number;
      if (this.seen < this.capacity) slot = this.seen;
      else {
        const j = Math.floor(this.rng.uniform() * (this.seen + 1));
        slot = j < this.capacity ? j : -1;
      }
      this.seen++;
      if (slot < 0) continue;
      if ((slot + 1) * d > this.data.length) {
        const grown = new Float32Array(Math.min(this.capacity, Math.max(slot + 1, 2 * (this.data.length / d))) * d);
        grown.set(this.data);
        this.data = grown;
      }
      for (let j = 0; j < d; j++) this.data[slot * d + j] = batch[r * d + j]!;
    }
  }

  /** Vectors seen so far (not only kept). */
  get count(): number {
    return this.seen;
  }

  matrix(): FeatureMatrix {
    const rows = Math.min(this.seen, this.capacity);
    return { rows, dim: this.dim, data: this.data.slice(0, rows * this.dim) };
  }
}
