/** Timestep sampling for training. */
import type { Rng } from '../rng';

/**
 * Antithetic sampling over {0..T-1} as in the official code: draw n/2+1 uniform indices, append
 * their mirrors T-1-j, keep the first n. Pairs of mirrored timesteps lower the loss variance.
 */
export function antitheticTimesteps(rng: Rng, n: number, T: number): Int32Array {
  const half = Math.floor(n / 2) + 1;
  const draws = new Int32Array(half);
  for (let i = 0; i < half; i++) draws[i] = rng.int(T);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i < half ? draws[i]! : T - 1 - draws[i - half]!;
  return out;
}
