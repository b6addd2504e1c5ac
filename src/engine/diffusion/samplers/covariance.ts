/**
 * Reverse steps with an estimated variance: Analytic-DPM (Bao et al., ICLR 2022) and NPR-/SN-DPM (Bao et al.,
 * ICML 2022), for the DDPM and DDIM families on any sub-sequence. Written against the papers and the official
 * code (baofff/Analytic-DPM `reverse_*_ms_eps`, baofff/Extended-Analytic-DPM `core/diffusion/dtdpm.py` and
 * `sample.py`); symbols in the official code's names where they help: the step goes from index r (= i, the
 * current one) to s (= next, -1 on the last step), ᾱ(-1) = 1, β̄ = 1 - ᾱ.
 *
 * Both families share one shape. With λ² the family's own variance on the step,
 *   DDPM: λ² = β̃ = (1 - ᾱ_r/ᾱ_s) β̄_s / β̄_r (the posterior variance on the sub-sequence, "small sigma");
 *   DDIM: λ² = η² β̃,
 * the mean is the family's, from the predicted x0 (and, for DDIM, the predicted noise), unchanged:
 *   DDPM: μ = (√ᾱ_s (1 - ᾱ_r/ᾱ_s) x0 + √(ᾱ_r/ᾱ_s) β̄_s x_r) / β̄_r
 *   DDIM: μ = √ᾱ_s x0 + √(β̄_s - λ²) ε_θ
 * and the optimal variance (the papers' Theorem 1 / Eq. 7 of the ICML paper, elementwise for a diagonal one) is
 *   σ² = λ² + (√ᾱ_s - √((β̄_s - λ²) ᾱ_r / β̄_r))² · Cov[x0 | x_r],
 * which for the analytic estimate Cov[x0 | x_r] = β̄_r/ᾱ_r (1 - Γ_r) is the issue's
 * λ² + (√(β̄_r/α) - √(β̄_s - λ²))² (1 - Γ_r) with α = ᾱ_r/ᾱ_s. (For DDPM the coefficient reduces to the
 * official ᾱ_s (1 - ᾱ_r/ᾱ_s)² / β̄_r².) Cov[x0 | x_r] comes from
 *   analytic: β̄_r/ᾱ_r (1 - Γ_r), Γ_r = E‖ε_θ(x_r, r)‖²/d      (one number per step)
 *   NPR:      β̄_r/ᾱ_r · h(x_r),   h ≈ E[(ε - ε_θ)² | x_r]      (per pixel)
 *   SN:       β̄_r/ᾱ_r (h(x_r) - ε_θ²), h ≈ E[ε² | x_r]          (per pixel)
 * and is clipped to [0, ((b - a)/2)²] = [0, 1] for images in [-1, 1] (Theorem 2's bounds: the lower one is
 * σ² >= λ², the upper one the bounded-data bound; official `clip_cov_x0`).
 *
 * Last steps, as the official sampler: the last step (to s = -1) adds no noise (x = μ); on the `clipSigmaSteps`
 * noisy steps nearest the data (official `clip_sigma_idx`, 1 in every published setting) σ² is capped so the
 * expected absolute noise is at most `clipPixel` 8-bit levels: σ √(2/π) <= clipPixel · 2/255, i.e.
 * σ² <= (clipPixel · (2/255) · √(π/2))² (official `clip_pixel`: 2 for DDPM, 1 for DDIM on the linear schedule).
 * The predicted x0 in the mean is clipped to [-1, 1] (official `clip_x0 = True`); the plain DDPM sampler
 * clips it too, plain DDIM (the SA-DPM code) does not, so for the DDIM family this is a choice (`clipX0`).
 */
import { tf } from '../../tf';
import type { Schedule } from '../schedule';
import { alphaBarAt } from './ddim';

export type SamplerFamily = 'ddpm' | 'ddim';
export type CovHeadKind = 'npr' | 'sn';

/** Upper clip of Cov[x0 | x_r] per pixel: ((b - a)/2)² for data in [a, b] = [-1, 1]. */
export const COV_X0_MAX = 1;

/** The official defaults of `clip_pixel` (README tables, linear schedule) and `clip_sigma_idx`. */
export const DEFAULT_CLIP_PIXEL: Record<SamplerFamily, number> = { ddpm: 2, ddim: 1 };
export const DEFAULT_CLIP_SIGMA_STEPS = 1;

/** σ² cap of a clipped step: E|σ z| = σ √(2/π) <= clipPixel · 2/255. */
export function sigma2Cap(clipPixel: number): number {
  if (!(clipPixel > 0) || !Number.isFinite(clipPixel)) {
    throw new Error(`clipPixel must be a finite number > 0, got ${clipPixel}`);
  }
  return (clipPixel * (2 / 255) * Math.sqrt(Math.PI / 2)) ** 2;
}

export interface VarianceStepCoefficients {
  family: SamplerFamily;
  /** √(1/ᾱ_r), √(1/ᾱ_r - 1): x0 = x √(1/ᾱ_r) - ε √(1/ᾱ_r - 1). */
  sqrtRecipAt: number;
  sqrtRecipAtm1: number;
  /** μ = coefX0 · x0 + coefX · x + coefEps · ε. */
  coefX0: number;
  coefX: number;
  coefEps: number;
  clipX0: boolean;
  /** λ²: the family's own variance on this step. */
  lambda2: number;
  /** β̄_r / ᾱ_r: noise-space (co)variance → Cov[x0 | x_r]. */
  covScale: number;
  /** (√ᾱ_s - √((β̄_s - λ²) ᾱ_r / β̄_r))²: Cov[x0 | x_r] → added reverse variance. */
  coefCov: number;
  /** Cap on σ² (Infinity where the step is not clipped). */
  cap: number;
  /** False on the last step (no noise). */
  noisy: boolean;
}

export interface VarianceStepSettings {
  family: SamplerFamily;
  /** DDIM η (DDPM ignores it: its λ² is β̃). */
  eta: number;
  clipX0: boolean;
  /** σ² cap for this step, Infinity for none. */
  cap: number;
}

/** Host-side (float64) coefficients of the step from index i to `next` (-1 on the last step). */
export function varianceStepCoefficients(
  schedule: Schedule,
  i: number,
  next: number,
  s: VarianceStepSettings,
): VarianceStepCoefficients {
  if (!(next < i)) throw new Error(`variance step: next index ${next} must be below the current index ${i}`);
  const ar = alphaBarAt(schedule, i);
  const as = alphaBarAt(schedule, next);
  const br = 1 - ar;
  const bs = 1 - as;
  const skipBeta = 1 - ar / as;
  const betaTilde = (skipBeta * bs) / br;
  let lambda2: number;
  let coefX0: number;
  let coefX: number;
  let coefEps: number;
  if (s.family === 'ddpm') {
    lambda2 = betaTilde;
    coefX0 = (Math.sqrt(as) * skipBeta) / br;
    coefX = (Math.sqrt(1 - skipBeta) * bs) / br;
    coefEps = 0;
  } else if (s.family === 'ddim') {
    if (!(s.eta >= 0) || !Number.isFinite(s.eta)) {
      throw new Error(`variance step: eta must be a finite number >= 0, got ${s.eta}`);
    }
    lambda2 = s.eta * s.eta * betaTilde;
    const rest = bs - lambda2;
    if (rest < -1e-12) {
      throw new Error(`variance step: eta = ${s.eta} too large at index ${i} (1 - a_next - eta² β̃ = ${rest} < 0)`);
    }
    coefX0 = Math.sqrt(as);
    coefX = 0;
    coefEps = Math.sqrt(Math.max(0, rest));
  } else {
    throw new Error(`variance step: unknown family '${String(s.family)}' (expected ddpm or ddim)`);
  }
  const coefCov = (Math.sqrt(as) - Math.sqrt((Math.max(0, bs - lambda2) * ar) / br)) ** 2;
  return {
    family: s.family,
    sqrtRecipAt: Math.sqrt(1 / ar),
    sqrtRecipAtm1: Math.sqrt(1 / ar - 1),
    coefX0,
    coefX,
    coefEps,
    clipX0: s.family === 'ddpm' ? true : s.clipX0,
    lambda2,
    covScale: br / ar,
    coefCov,
    cap: s.cap,
    noisy: next >= 0,
  };
}

/** σ² from a per-step Cov[x0 | x_r] (clipped to [0, COV_X0_MAX]) and the step's cap; 0 on the last step. */
export function sigma2FromCovX0(k: VarianceStepCoefficients, covX0: number): number {
  if (!k.noisy) return 0;
  const cov = Math.min(COV_X0_MAX, Math.max(0, covX0));
  return Math.min(k.cap, Math.max(0, k.lambda2 + k.coefCov * cov));
}

/** Analytic-DPM's σ² at a step from Γ_r = E‖ε_θ(x_r, r)‖²/d. */
export function analyticSigma2(k: VarianceStepCoefficients, gamma: number): number {
  return sigma2FromCovX0(k, k.covScale * (1 - gamma));
}

/** Per-pixel σ² from a covariance head's output h (NPR: h ≈ E[(ε - ε_θ)²|x]; SN: h ≈ E[ε²|x]). Call in tf.tidy. */
export function headSigma2(
  k: VarianceStepCoefficients,
  kind: CovHeadKind,
  h: tf.Tensor4D,
  eps: tf.Tensor4D,
): tf.Tensor4D {
  const noiseVar = kind === 'npr' ? h : kind === 'sn' ? tf.sub(h, tf.square(eps)) : null;
  if (noiseVar === null) throw new Error(`covariance head: unknown kind '${String(kind)}' (expected npr or sn)`);
  const cov = tf.clipByValue(tf.mul(noiseVar, k.covScale), 0, COV_X0_MAX);
  const s2 = tf.add(tf.mul(cov, k.coefCov), k.lambda2);
  return (Number.isFinite(k.cap) ? tf.clipByValue(s2, 0, k.cap) : tf.relu(s2)) as tf.Tensor4D;
}

/**
 * x' = μ + √σ² z (σ² a number or a per-pixel tensor); μ alone on the last step. Returns x' and the x0 used
 * in the mean (clipped when k.clipX0); call in tf.tidy.
 */
export function varianceStep(
  x: tf.Tensor4D,
  e: tf.Tensor4D,
  k: VarianceStepCoefficients,
  sigma2: number | tf.Tensor4D,
  z: tf.Tensor4D | null,
): { xNext: tf.Tensor4D; x0: tf.Tensor4D } {
  let x0 = tf.sub(tf.mul(x, k.sqrtRecipAt), tf.mul(e, k.sqrtRecipAtm1)) as tf.Tensor4D;
  if (k.clipX0) x0 = tf.clipByValue(x0, -1, 1);
  let mean = tf.mul(x0, k.coefX0) as tf.Tensor4D;
  if (k.coefX !== 0) mean = tf.add(mean, tf.mul(x, k.coefX));
  if (k.coefEps !== 0) mean = tf.add(mean, tf.mul(e, k.coefEps));
  if (!k.noisy) return { xNext: mean, x0 };
  if (z === null) throw new Error('variance step: step noise required before the last step');
  const sd = typeof sigma2 === 'number' ? Math.sqrt(sigma2) : tf.sqrt(sigma2);
  return { xNext: tf.add(mean, tf.mul(z, sd)) as tf.Tensor4D, x0 };
}

/**
 * The σ² caps of a walk: steps are numbered in sampling order k = 0..S-1 (k = S-1 the last, to -1); the
 * `clipSigmaSteps` noisy steps before the last one get sigma2Cap(clipPixel) (official: clip where
 * s <= timesteps[clip_sigma_idx], with timesteps = [0] + the trajectory).
 */
export function stepCaps(S: number, clipSigmaSteps: number, clipPixel: number): number[] {
  if (!Number.isInteger(clipSigmaSteps) || clipSigmaSteps < 0) {
    throw new Error(`clipSigmaSteps must be an integer >= 0, got ${clipSigmaSteps}`);
  }
  const cap = clipSigmaSteps > 0 ? sigma2Cap(clipPixel) : Infinity;
  return Array.from({ length: S }, (_, k) => (k < S - 1 && k >= S - 1 - clipSigmaSteps ? cap : Infinity));
}
