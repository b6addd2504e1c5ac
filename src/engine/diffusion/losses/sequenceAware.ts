/**
 * L = L_simple + λ·L_sa (spec §2). Reductions follow the official code: sum over pixels, mean over
 * the batch. Every variant shares one structure: a top index j per image and K residuals at
 * j, j-1, ..., j-K+1, combined with per-residual weights w_k:
 *   official:   w_k = 1 if j-k >= 0 else 0
 *   paper:      w_k = τ_{j-k} (τ at paper t = 1, index 0, is 0; outside the range 0)
 *   normalized: paper weights divided by their mean over the window's non-zero entries, so the
 *               relative τ weighting is kept at the official variant's scale.
 * L_sa = (1/K²) · ‖Σ_k w_k r_k‖². K = 1 or λ = 0 is plain DDPM: one forward pass, L_sa = 0.
 */
import { tf } from '../../tf';
import type { NormalSource } from '../../rng';
import type { TauVariant } from '../../../shared/config';
import { isSaActive } from '../../../shared/naming';
import type { Schedule } from '../schedule';
import { qSample } from '../forward';
import { simpleLossFromResiduals, sumOfSquares } from './simple';

export interface LossSettings {
  k: number;
  lambda: number;
  tau: TauVariant;
}

/** Weights of the K residuals for a window whose top index is j. */
export function windowWeights(schedule: Schedule, variant: TauVariant, j: number, K: number): Float64Array {
  const w = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const s = j - k;
    if (s < 0) continue;
    w[k] = variant === 'official' ? 1 : schedule.tau[s]!;
  }
  if (variant === 'normalized') {
    let sum = 0;
    let n = 0;
    for (const v of w) if (v > 0) ((sum += v), n++);
    if (n > 0) for (let k = 0; k < K; k++) w[k] = w[k]! / (sum / n);
  }
  return w;
}

/** Host-side inputs of one loss evaluation; K terms stacked k-major ([K*B, H, W, C]). */
export interface LossBatch {
  terms: number;
  batch: number;
  shape: [number, number, number];
  xin: Float32Array;
  eps: Float32Array;
  /** Network timestep index of each of the K*B inputs (clamped at 0 for masked terms). */
  t: Float32Array;
  /** Weight of each residual in the SA sum, [K*B]. */
  weights: Float32Array;
}

/** How many noised copies of each image the loss evaluates (K, or 1 when the SA term is off). */
export function lossTerms(settings: LossSettings): number {
  return isSaActive(settings) ? settings.k : 1;
}

/** Per-term timestep indices of a batch whose top indices are `top`: the network's t and the SA weights. */
export interface LossIndices {
  /** Index j - k of term k, image b, at [k*B + b] (negative where the window runs past index 0). */
  idx: Int32Array;
  /** Network timestep index of each of the K*B inputs (clamped at 0 for masked terms). */
  t: Float32Array;
  /** Weight of each residual in the SA sum, [K*B]. */
  weights: Float32Array;
}

export function lossIndices(schedule: Schedule, settings: LossSettings, top: Int32Array): LossIndices {
  const B = top.length;
  const K = lossTerms(settings);
  const idx = new Int32Array(K * B);
  const t = new Float32Array(K * B);
  const weights = new Float32Array(K * B);
  for (let k = 0; k < K; k++) {
    for (let b = 0; b < B; b++) {
      idx[k * B + b] = top[b]! - k;
      t[k * B + b] = Math.max(0, top[b]! - k);
    }
  }
  if (K > 1) {
    for (let b = 0; b < B; b++) {
      const w = windowWeights(schedule, settings.tau, top[b]!, K);
      for (let k = 0; k < K; k++) weights[k * B + b] = w[k]!;
    }
  }
  return { idx, t, weights };
}

/**
 * Builds the loss inputs: for k = 0..K-1 an independent noise ε^(k) (k = 0 is the L_simple noise)
 * and x^(k) sampled from q(x | x0) at index j - k. The trainer computes the same on a worker
 * (train/lossInputs.ts); this is the reference it is tested against.
 */
export function prepareLossBatch(
  schedule: Schedule,
  settings: LossSettings,
  x0: Float32Array,
  shape: [number, number, number],
  top: Int32Array,
  noise: NormalSource,
): LossBatch {
  const B = top.length;
  const P = shape[0] * shape[1] * shape[2];
  if (x0.length !== B * P) throw new Error(`loss: x0 has ${x0.length} values, expected ${B}x${P}`);
  const K = lossTerms(settings);
  const { idx, t, weights } = lossIndices(schedule, settings, top);
  const xin = new Float32Array(K * B * P);
  const eps = new Float32Array(K * B * P);
  for (let k = 0; k < K; k++) {
    const epsK = eps.subarray(k * B * P, (k + 1) * B * P);
    noise.fillNormal(epsK);
    qSample(schedule, x0, epsK, idx.subarray(k * B, (k + 1) * B), xin.subarray(k * B * P, (k + 1) * B * P));
  }
  return { terms: K, batch: B, shape, xin, eps, t, weights };
}

export type EpsFn = (x: tf.Tensor4D, t: tf.Tensor1D, term: number) => tf.Tensor4D;

export interface LossTensors {
  loss: tf.Scalar;
  simple: tf.Scalar;
  sa: tf.Scalar;
}

/**
 * The loss as tensors (call inside tf.variableGrads). `batched` runs the K evaluations as one
 * network call of batch K·B instead of K calls; both give the same value when dropout is off.
 */
export function lossTensors(model: EpsFn, lb: LossBatch, settings: LossSettings, batched = true): LossTensors {
  const { terms: K, batch: B, shape } = lb;
  const P = shape[0] * shape[1] * shape[2];
  let residuals: tf.Tensor2D[];
  if (batched || K === 1) {
    const x = tf.tensor4d(lb.xin, [K * B, ...shape]);
    const t = tf.tensor1d(lb.t);
    const e = tf.tensor2d(lb.eps, [K * B, P]);
    const r = tf.sub(e, tf.reshape(model(x, t, 0), [K * B, P])) as tf.Tensor2D;
    residuals = K === 1 ? [r] : tf.split(r, K, 0);
  } else {
    residuals = [];
    for (let k = 0; k < K; k++) {
      const x = tf.tensor4d(lb.xin.subarray(k * B * P, (k + 1) * B * P), [B, ...shape]);
      const t = tf.tensor1d(lb.t.subarray(k * B, (k + 1) * B));
      const e = tf.tensor2d(lb.eps.subarray(k * B * P, (k + 1) * B * P), [B, P]);
      residuals.push(tf.sub(e, tf.reshape(model(x, t, k), [B, P])) as tf.Tensor2D);
    }
  }
  const simple = simpleLossFromResiduals(residuals[0]!);
  if (K === 1) return { loss: simple, simple, sa: tf.scalar(0) };
  let acc: tf.Tensor2D | null = null;
  for (let k = 0; k < K; k++) {
    const w = tf.tensor2d(lb.weights.subarray(k * B, (k + 1) * B), [B, 1]);
    const term = tf.mul(residuals[k]!, w) as tf.Tensor2D;
    acc = acc ? (tf.add(acc, term) as tf.Tensor2D) : term;
  }
  const sa = tf.div(sumOfSquares(acc!), B * K * K) as tf.Scalar;
  const loss = tf.add(simple, tf.mul(sa, settings.lambda)) as tf.Scalar;
  return { loss, simple, sa };
}
