/**
 * One step of generalized DDIM (the official DDIM / SA-DPM `generalized_steps`), from index i to the next
 * (smaller) index `next` of the sub-sequence, next = -1 for the last step (alphaBar(-1) = 1):
 *
 *   x0   = (x - sqrt(1 - a_t) e) / sqrt(a_t)                     (NOT clipped, as in the official code)
 *   c1   = eta * sqrt((1 - a_t / a_next) (1 - a_next) / (1 - a_t))
 *   c2   = sqrt(1 - a_next - c1^2)
 *   x'   = sqrt(a_next) x0 + c1 z + c2 e
 *
 * eta = 0 is deterministic; eta = 1 gives DDPM-like posterior noise on the sub-sequence.
 * Coefficients are computed in float64 on the host; the tensor math is float32.
 */
import { tf } from '../../tf';
import type { Schedule } from '../schedule';

/** alphaBar at a 0-based index, with alphaBar(-1) = 1 (the official `compute_alpha`). */
export function alphaBarAt(schedule: Schedule, j: number): number {
  if (j < 0) return 1;
  const a = schedule.alphaBar[j];
  if (a === undefined) throw new Error(`alphaBarAt: index ${j} outside 0..${schedule.T - 1}`);
  return a;
}

export interface DdimCoefficients {
  /** 1 / sqrt(a_t) */
  invSqrtAt: number;
  /** sqrt(1 - a_t) */
  sqrtOneMinusAt: number;
  /** sqrt(a_next) */
  sqrtAnext: number;
  c1: number;
  c2: number;
}

export function ddimCoefficients(schedule: Schedule, i: number, next: number, eta: number): DdimCoefficients {
  if (!(eta >= 0)) throw new Error(`ddim: eta must be >= 0, got ${eta}`);
  const at = alphaBarAt(schedule, i);
  const an = alphaBarAt(schedule, next);
  const c1 = eta * Math.sqrt(((1 - at / an) * (1 - an)) / (1 - at));
  // Guard tiny negative round-off (eta > 1 can make this genuinely negative: the official code gives NaN).
  const c2sq = 1 - an - c1 * c1;
  if (c2sq < -1e-12) throw new Error(`ddim: eta = ${eta} too large at index ${i} (1 - a_next - c1^2 = ${c2sq} < 0)`);
  return {
    invSqrtAt: 1 / Math.sqrt(at),
    sqrtOneMinusAt: Math.sqrt(1 - at),
    sqrtAnext: Math.sqrt(an),
    c1,
    c2: Math.sqrt(Math.max(0, c2sq)),
  };
}

/**
 * The DDIM update. `z` may be null when c1 = 0 (eta = 0 or the last step). Returns new tensors x_next and
 * the (unclipped) x0 prediction; call inside tf.tidy.
 */
export function ddimStep(
  x: tf.Tensor4D,
  e: tf.Tensor4D,
  k: DdimCoefficients,
  z: tf.Tensor4D | null,
): { xNext: tf.Tensor4D; x0: tf.Tensor4D } {
  const x0 = tf.mul(tf.sub(x, tf.mul(e, k.sqrtOneMinusAt)), k.invSqrtAt) as tf.Tensor4D;
  let xNext = tf.add(tf.mul(x0, k.sqrtAnext), tf.mul(e, k.c2)) as tf.Tensor4D;
  if (k.c1 !== 0) {
    if (z === null) throw new Error('ddim: step noise required when c1 != 0');
    xNext = tf.add(xNext, tf.mul(z, k.c1)) as tf.Tensor4D;
  }
  return { xNext, x0 };
}

/** Whether this DDIM step draws noise (c1 != 0). */
export function ddimNeedsNoise(k: DdimCoefficients): boolean {
  return k.c1 !== 0;
}
