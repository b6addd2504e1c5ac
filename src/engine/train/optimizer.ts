/**
 * Adam with PyTorch's semantics, global-norm gradient clipping and an EMA of the weights, over a
 * list of tfjs variables. State is plain tensors so that checkpoints can save and restore it.
 */
import { tf } from '../tf';

export interface AdamSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export class Adam {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  /** Number of updates applied so far (PyTorch's `step` in the state). */
  count = 0;

  constructor(
    readonly params: tf.Variable[],
    readonly settings: AdamSettings,
  ) {
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  /** Applies one update with learning rate `lr` (warm-up is the caller's business). */
  apply(grads: tf.Tensor[], lr: number): void {
    const { beta1: b1, beta2: b2, eps } = this.settings;
    this.count += 1;
    const bc1 = 1 - b1 ** this.count;
    const bc2 = 1 - b2 ** this.count;
    // p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), as torch.optim.Adam computes it.
    const stepSize = lr / bc1;
    const invSqrtBc2 = 1 / Math.sqrt(bc2);
    tf.tidy(() => {
      const sB1 = tf.scalar(b1);
      const s1mB1 = tf.scalar(1 - b1);
      const sB2 = tf.scalar(b2);
      const s1mB2 = tf.scalar(1 - b2);
      const sStep = tf.scalar(stepSize);
      const sInv = tf.scalar(invSqrtBc2);
      const sEps = tf.scalar(eps);
      for (let i = 0; i < this.params.length; i++) {
        const g = grads[i]!;
        const m = tf.add(tf.mul(this.m[i]!, sB1), tf.mul(g, s1mB1));
        const v = tf.add(tf.mul(this.v[i]!, sB2), tf.mul(tf.square(g), s1mB2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        const denom = tf.add(tf.mul(tf.sqrt(v), sInv), sEps);
        this.params[i]!.assign(tf.sub(this.params[i]!, tf.mul(tf.div(m, denom), sStep)));
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (torch's clip_grad_norm_:
 * coefficient maxNorm / (norm + 1e-6), capped at 1). Returns the scaled grads and the norm before
 * clipping; maxNorm = 0 only measures. The caller owns (and disposes) everything returned.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const sq = grads.map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(tf.addN(sq)) as tf.Scalar;
    if (maxNorm <= 0) return { grads: grads.map((g) => tf.clone(g)), norm };
    const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, 1e-6)), 1);
    return { grads: grads.map((g) => tf.mul(g, coef)), norm };
  });
}

/** Exponential moving average of weights: ema = decay·ema + (1 − decay)·p after every step. */
export class Ema {
  readonly shadow: tf.Variable[];

  constructor(
    params: tf.Variable[],
    readonly decay: number,
  ) {
    this.shadow = params.map((p) => tf.variable(tf.clone(p), false));
  }

  update(params: tf.Variable[]): void {
    tf.tidy(() => {
      const d = tf.scalar(this.decay);
      const oneMinus = tf.scalar(1 - this.decay);
      for (let i = 0; i < params.length; i++) {
        this.shadow[i]!.assign(tf.add(tf.mul(this.shadow[i]!, d), tf.mul(params[i]!, oneMinus)));
      }
    });
  }

  dispose(): void {
    for (const t of this.shadow) t.dispose();
  }
}

/** Linear warm-up to the base rate over `warmup` steps, then constant (the official schedule). */
export function learningRateAt(step: number, base: number, warmup: number): number {
  return warmup > 0 ? base * Math.min(1, step / warmup) : base;
}
