/**
 * One step of DDPM ancestral sampling on a sub-sequence, as the official DDIM / SA-DPM `ddpm_steps`
 * (`--sample_type ddpm_noisy`), from index i to `next` (next = -1 on the last step, alphaBar(-1) = 1):
 *
 *   beta_t = 1 - a_t / a_next
 *   x0     = clip(sqrt(1/a_t) x - sqrt(1/a_t - 1) e, -1, 1)
 *   mean   = (sqrt(a_next) beta_t x0 + sqrt(1 - beta_t) (1 - a_next) x) / (1 - a_t)
 *   x'     = mean + mask * exp(0.5 * logvar) * z
 *
 * Variance: the official code uses logvar = log(beta_t) (the larger, "noisy" choice; that is what
 * 'beta' does and it is the default). 'posterior' uses the posterior variance
 * beta_t (1 - a_next) / (1 - a_t) instead (the paper's / DDPM's beta-tilde on the sub-sequence).
 *
 * Mask: the official code masks the noise where t == 0. For 'uniform' and 'quad' spacing the last step is
 * the one at index 0, so masking "the last step" (next = -1) is identical; for 'trailing' spacing (no index
 * 0) masking the last step is the only sensible choice and is what we do: noise is added iff next >= 0.
 */
import { tf } from '../../tf';
import type { Schedule } from '../schedule';
import { alphaBarAt } from './ddim';

export type DdpmVariance = 'beta' | 'posterior';

export interface DdpmCoefficients {
  /** sqrt(1 / a_t) */
  sqrtRecipAt: number;
  /** sqrt(1 / a_t - 1) */
  sqrtRecipAtm1: number;
  /** sqrt(a_next) beta_t / (1 - a_t): mean coefficient on x0 */
  coefX0: number;
  /** sqrt(1 - beta_t) (1 - a_next) / (1 - a_t): mean coefficient on x_t */
  coefXt: number;
  /** standard deviation of the added noise (0 on the last step) */
  sigma: number;
}

export function ddpmCoefficients(
  schedule: Schedule,
  i: number,
  next: number,
  variance: DdpmVariance = 'beta',
): DdpmCoefficients {
  const at = alphaBarAt(schedule, i);
  const an = alphaBarAt(schedule, next);
  const beta = 1 - at / an;
  let sigma = 0;
  if (next >= 0) {
    if (variance === 'beta') sigma = Math.sqrt(beta);
    else if (variance === 'posterior') sigma = Math.sqrt((beta * (1 - an)) / (1 - at));
    else throw new Error(`ddpm: unknown variance '${String(variance)}' (expected beta or posterior)`);
  }
  return {
    sqrtRecipAt: Math.sqrt(1 / at),
    sqrtRecipAtm1: Math.sqrt(1 / at - 1),
    coefX0: (Math.sqrt(an) * beta) / (1 - at),
    coefXt: (Math.sqrt(1 - beta) * (1 - an)) / (1 - at),
    sigma,
  };
}

/**
 * The DDPM update. `z` may be null when sigma = 0 (the last step). Returns x_next and the clipped x0
 * prediction; call inside tf.tidy.
 */
export function ddpmStep(
  x: tf.Tensor4D,
  e: tf.Tensor4D,
  k: DdpmCoefficients,
  z: tf.Tensor4D | null,
): { xNext: tf.Tensor4D; x0: tf.Tensor4D } {
  const x0 = tf.clipByValue(tf.sub(tf.mul(x, k.sqrtRecipAt), tf.mul(e, k.sqrtRecipAtm1)), -1, 1) as tf.Tensor4D;
  let xNext = tf.add(tf.mul(x0, k.coefX0), tf.mul(x, k.coefXt)) as tf.Tensor4D;
  if (k.sigma !== 0) {
    if (z === null) throw new Error('ddpm: step noise required when sigma != 0');
    xNext = tf.add(xNext, tf.mul(z, k.sigma)) as tf.Tensor4D;
  }
  return { xNext, x0 };
}

export function ddpmNeedsNoise(k: DdpmCoefficients): boolean {
  return k.sigma !== 0;
}
