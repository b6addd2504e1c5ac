/** The forward process q(x_t | x_0) on the host: x_t = sqrt(abar) x0 + sqrt(1 - abar) eps. */
import type { Schedule } from './schedule';

/**
 * Writes x_t for each image i at index idx[i] (NHWC, P values per image) into `out`. It references nothing
 * outside itself, so the training-inputs worker (train/lossInputs.ts) runs its source.
 */
export function qSample(
  schedule: Pick<Schedule, 'sqrtAlphaBar' | 'sqrtOneMinusAlphaBar'>,
  x0: Float32Array,
  eps: Float32Array,
  idx: ArrayLike<number>,
  out: Float32Array = new Float32Array(x0.length),
): Float32Array {
  const n = idx.length;
  const P = x0.length / n;
  for (let i = 0; i < n; i++) {
    const j = Math.max(0, idx[i]!);
    const a = schedule.sqrtAlphaBar[j]!;
    const b = schedule.sqrtOneMinusAlphaBar[j]!;
    const base = i * P;
    for (let p = 0; p < P; p++) out[base + p] = a * x0[base + p]! + b * eps[base + p]!;
  }
  return out;
}
