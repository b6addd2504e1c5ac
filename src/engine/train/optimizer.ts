/**
 * Adam with PyTorch's semantics, global-norm gradient clipping and an EMA of the weights.
 *
 * All optimiser state lives in flat 1-D buffers (one for the weights, Adam's m and v, the EMA):
 * an update is a dozen kernels for the whole model instead of a dozen per variable (the UNet
 * has ~150 variables; per-variable Adam was the largest share of a small step's GPU dispatches).
 * The model's variables are then refreshed as slices of the flat weights.
 */
import { tf } from '../tf';
import { kernels } from '../gpu/registry';

export interface AdamSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Layout of a list of tensors inside one flat buffer. */
export class FlatLayout {
  readonly shapes: number[][];
  readonly sizes: number[];
  readonly offsets: number[];
  readonly total: number;

  constructor(shapes: number[][]) {
    this.shapes = shapes.map((s) => [...s]);
    this.sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    this.offsets = [];
    let off = 0;
    for (const n of this.sizes) {
      this.offsets.push(off);
      off += n;
    }
    this.total = off;
  }

  flatten(ts: tf.Tensor[]): tf.Tensor1D {
    return kernels().concatFlat(ts);
  }

  /** Views of a flat tensor as the listed shapes (new tensors owned by the caller). */
  split(flat: tf.Tensor1D): tf.Tensor[] {
    return this.shapes.map((s, i) =>
      tf.tidy(() => tf.reshape(tf.slice(flat, [this.offsets[i]!], [this.sizes[i]!]), s)),
    );
  }

  splitHost(flat: Float32Array): Float32Array[] {
    return this.sizes.map((n, i) => flat.slice(this.offsets[i]!, this.offsets[i]! + n));
  }

  joinHost(parts: Float32Array[]): Float32Array {
    const out = new Float32Array(this.total);
    parts.forEach((p, i) => {
      if (p.length !== this.sizes[i])
        throw new Error(`flat layout: part ${i} has ${p.length} values, expected ${this.sizes[i]}`);
      out.set(p, this.offsets[i]!);
    });
    return out;
  }
}

export class Adam {
  readonly layout: FlatLayout;
  /** Flat master copy of the weights; the model's variables are slices of it after each update. */
  readonly master: tf.Variable<tf.Rank.R1>;
  readonly m: tf.Variable<tf.Rank.R1>;
  readonly v: tf.Variable<tf.Rank.R1>;
  /** Number of updates applied so far (PyTorch's `step` in the state). */
  count = 0;

  constructor(
    readonly params: tf.Variable[],
    readonly settings: AdamSettings,
  ) {
    this.layout = new FlatLayout(params.map((p) => p.shape));
    // Each flat buffer held by its variable alone, so that the update can write it in place.
    this.master = ownVariable(this.layout.flatten(params));
    this.m = ownVariable(tf.zeros([this.layout.total]));
    this.v = ownVariable(tf.zeros([this.layout.total]));
  }

  /** Re-reads the model's variables into the master copy (after weights were written directly). */
  syncFromParams(): void {
    assignOwned(this.master, this.layout.flatten(this.params));
  }

  /**
   * Applies one update from a flat gradient with learning rate `lr` (warm-up is the caller's), the
   * gradient scaled by `coef` when given (clipping), then the EMA's update of the new weights when
   * given: in one in-place kernel where the kernel set has it, else as ops.
   */
  apply(grad: tf.Tensor1D, lr: number, coef: tf.Scalar | null = null, ema: Ema | null = null): void {
    const { beta1: b1, beta2: b2, eps } = this.settings;
    this.count += 1;
    const bc1 = 1 - b1 ** this.count;
    const bc2 = 1 - b2 ** this.count;
    const decay = ema?.decay ?? 0;
    const values = { beta1: b1, beta2: b2, invSqrtBc2: 1 / Math.sqrt(bc2), eps, stepSize: lr / bc1, decay };
    const one = coef ? null : tf.scalar(1);
    const state = { master: this.master, m: this.m, v: this.v, ema: ema?.shadow ?? null };
    const fused = kernels().adamInPlace(state, grad, coef ?? one!, values);
    one?.dispose();
    if (!fused) {
      // p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), as torch.optim.Adam computes it.
      tf.tidy(() => {
        const g = coef ? tf.mul(grad, coef) : grad;
        const m = tf.add(tf.mul(this.m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.mul(tf.sqrt(v), values.invSqrtBc2), eps);
        const p = tf.sub(this.master, tf.mul(tf.div(m, denom), values.stepSize));
        this.m.assign(m as tf.Tensor1D);
        this.v.assign(v as tf.Tensor1D);
        this.master.assign(p as tf.Tensor1D);
      });
    }
    this.pushToParams();
    if (!fused) ema?.update(this.master);
  }

  private pushToParams(): void {
    if (kernels().copyFlatInto(this.master, this.params, this.layout.offsets)) return;
    const parts = this.layout.split(this.master);
    parts.forEach((t, i) => {
      this.params[i]!.assign(t);
      t.dispose();
    });
  }

  /** Sets weights and optimiser state from host arrays (checkpoint restore). */
  restore(m: Float32Array[], v: Float32Array[], count: number): void {
    this.syncFromParams();
    assignOwned(this.m, tf.tensor1d(this.layout.joinHost(m)));
    assignOwned(this.v, tf.tensor1d(this.layout.joinHost(v)));
    this.count = count;
  }

  async readState(): Promise<{ m: Float32Array[]; v: Float32Array[] }> {
    const [m, v] = await Promise.all([this.m.data(), this.v.data()]);
    return { m: this.layout.splitHost(m as Float32Array), v: this.layout.splitHost(v as Float32Array) };
  }

  dispose(): void {
    this.master.dispose();
    this.m.dispose();
    this.v.dispose();
  }
}

/** A variable holding `t`'s buffer alone (`t` is disposed). */
function ownVariable(t: tf.Tensor1D): tf.Variable<tf.Rank.R1> {
  const v = tf.variable(t, false);
  t.dispose();
  return v;
}

/** v.assign(t), then `t` disposed: v holds the buffer alone. */
function assignOwned(v: tf.Variable<tf.Rank.R1>, t: tf.Tensor1D): void {
  v.assign(t);
  t.dispose();
}

/**
 * The global L2 norm of a flat gradient and torch's clip_grad_norm_ coefficient for `maxNorm`:
 * maxNorm / (norm + 1e-6), capped at 1; null when maxNorm = 0 (only measures). The caller owns both.
 */
export function clipCoefficient(grad: tf.Tensor1D, maxNorm: number): { norm: tf.Scalar; coef: tf.Scalar | null } {
  // tfjs sums a whole tensor on one workgroup: milliseconds for a 36M-element gradient on a GPU.
  const norm = tf.tidy(() => tf.sqrt(kernels().sumOfSquares(grad)) as tf.Scalar);
  if (maxNorm <= 0) return { norm, coef: null };
  return { norm, coef: tf.tidy(() => tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1) as tf.Scalar) };
}

/**
 * Scales a flat gradient so that its L2 norm is at most `maxNorm` (see clipCoefficient). Returns the
 * scaled gradient and the norm before clipping; maxNorm = 0 only measures. The caller owns both.
 */
export function clipByGlobalNorm(grad: tf.Tensor1D, maxNorm: number): { grad: tf.Tensor1D; norm: tf.Scalar } {
  const { norm, coef } = clipCoefficient(grad, maxNorm);
  if (!coef) return { grad: tf.clone(grad), norm };
  const scaled = tf.mul(grad, coef) as tf.Tensor1D;
  coef.dispose();
  return { grad: scaled, norm };
}

/** Exponential moving average of the flat weights: ema = decay·ema + (1 − decay)·p each step. */
export class Ema {
  readonly shadow: tf.Variable<tf.Rank.R1>;

  constructor(
    readonly layout: FlatLayout,
    master: tf.Tensor1D,
    readonly decay: number,
  ) {
    // A copy with a buffer of its own (tf.clone shares master's), which the update writes in place.
    this.shadow = ownVariable(kernels().concatFlat([master]));
  }

  update(master: tf.Tensor1D): void {
    tf.tidy(() =>
      this.shadow.assign(tf.add(tf.mul(this.shadow, this.decay), tf.mul(master, 1 - this.decay)) as tf.Tensor1D),
    );
  }

  /** The EMA weights shaped like the model's variables (owned by the caller). */
  tensors(): tf.Tensor[] {
    return this.layout.split(this.shadow);
  }

  restore(parts: Float32Array[]): void {
    assignOwned(this.shadow, tf.tensor1d(this.layout.joinHost(parts)));
  }

  async read(): Promise<Float32Array[]> {
    return this.layout.splitHost((await this.shadow.data()) as Float32Array);
  }

  dispose(): void {
    this.shadow.dispose();
  }
}

/** Linear warm-up to the base rate over `warmup` steps, then constant (the official schedule). */
export function learningRateAt(step: number, base: number, warmup: number): number {
  return warmup > 0 ? base * Math.min(1, step / warmup) : base;
}
