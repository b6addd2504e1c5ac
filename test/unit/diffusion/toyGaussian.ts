/**
 * A toy where the optimal reverse variance is exact: data x0 ~ N(μ, s² I). Then x_j ~ N(√ᾱ μ, (ᾱ s² + β̄) I),
 *   E[ε | x_j] = √β̄ (x_j - √ᾱ μ) / (ᾱ s² + β̄)           (the exact noise predictor),
 *   Γ_j = E‖E[ε | x_j]‖²/d = β̄ / (ᾱ s² + β̄),
 *   Var[ε | x_j] = 1 - Γ_j,  Cov[x0 | x_j] = s² β̄ / (ᾱ s² + β̄),
 * all per coordinate. The reference reverse variance is computed independently of the samplers' algebra, by
 * conditioning the family's joint Gaussian: x_r = √ᾱ_r x0 + √β̄_r ε, x_s = √ᾱ_s x0 + √(β̄_s - λ²) ε + λ z.
 */
import { tf } from '../../../src/engine/tf';
import { Rng } from '../../../src/engine/rng';
import type { Schedule } from '../../../src/engine/diffusion/schedule';
import type { EpsModel } from '../../../src/engine/diffusion/samplers';
import type { ImageSource } from '../../../src/engine/data/imageSource';

export const toyShape: [number, number, number] = [2, 2, 1];
export const toyMu = [0.3, -0.2, 0.1, 0.5];
export const toyS = 0.5;

const ab = (s: Schedule, j: number) => (j < 0 ? 1 : s.alphaBar[j]!);

export function exactGamma(s: Schedule, j: number): number {
  const a = ab(s, j);
  return (1 - a) / (a * toyS * toyS + 1 - a);
}

export function exactCovX0(s: Schedule, j: number): number {
  const a = ab(s, j);
  return (toyS * toyS * (1 - a)) / (a * toyS * toyS + 1 - a);
}

/** λ² of a family on the step r → s (DDPM: β̃; DDIM: η² β̃). */
export function familyLambda2(sch: Schedule, r: number, s: number, family: 'ddpm' | 'ddim', eta: number): number {
  const ar = ab(sch, r);
  const as = ab(sch, s);
  const betaTilde = ((1 - ar / as) * (1 - as)) / (1 - ar);
  return family === 'ddpm' ? betaTilde : eta * eta * betaTilde;
}

/** Var[x_s | x_r] per coordinate under the family's forward process: the optimal isotropic σ². */
export function optimalVarianceByConditioning(sch: Schedule, r: number, s: number, lambda2: number): number {
  const ar = ab(sch, r);
  const as = ab(sch, s);
  const v0 = toyS * toyS;
  const varR = ar * v0 + 1 - ar;
  const varS = as * v0 + 1 - as;
  const cov = Math.sqrt(as * ar) * v0 + Math.sqrt(Math.max(0, 1 - as - lambda2)) * Math.sqrt(1 - ar);
  return varS - (cov * cov) / varR;
}

/** ε*(x, j) as a tfjs model (per-image j). */
export function exactPredictor(s: Schedule): EpsModel {
  const T = s.T;
  const scale = new Float32Array(T);
  const shift = new Float32Array(T);
  for (let j = 0; j < T; j++) {
    const a = s.alphaBar[j]!;
    scale[j] = Math.sqrt(1 - a) / (a * toyS * toyS + 1 - a);
    shift[j] = Math.sqrt(a);
  }
  const mu = tf.keep(tf.tensor4d(toyMu, [1, ...toyShape]));
  const scaleT = tf.keep(tf.tensor1d(scale));
  const shiftT = tf.keep(tf.tensor1d(shift));
  return (x, j) =>
    tf.tidy(() => {
      const ji = tf.cast(j, 'int32');
      const c = tf.reshape(tf.gather(scaleT, ji), [-1, 1, 1, 1]);
      const m = tf.mul(tf.reshape(tf.gather(shiftT, ji), [-1, 1, 1, 1]), mu);
      return tf.mul(tf.sub(x, m), c) as tf.Tensor4D;
    });
}

/** count i.i.d. draws from N(μ, s² I), image i fixed by (seed, i). */
export function toyImages(count: number, seed = 4242): ImageSource {
  const P = toyMu.length;
  return {
    count,
    shape: toyShape,
    read(positions) {
      const out = new Float32Array(positions.length * P);
      for (let b = 0; b < positions.length; b++) {
        const z = Rng.keyed(seed, positions[b]!).normal(P);
        for (let p = 0; p < P; p++) out[b * P + p] = toyMu[p]! + toyS * z[p]!;
      }
      return out;
    },
  };
}
