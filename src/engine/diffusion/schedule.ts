/**
 * Noise schedule coefficients, computed in float64 (JS numbers).
 *
 * Arrays are indexed by the 0-based network index j = t - 1 (the official code's convention);
 * the paper's t is j + 1. Index j = 0 has alphaBarPrev = 1.
 */

export type ScheduleKind = 'linear' | 'cosine';

export interface ScheduleOptions {
  kind: ScheduleKind;
  T: number;
  betaStart?: number;
  betaEnd?: number;
}

export interface Schedule {
  kind: ScheduleKind;
  T: number;
  betas: Float64Array;
  alphas: Float64Array;
  alphaBar: Float64Array;
  alphaBarPrev: Float64Array;
  sqrtAlphaBar: Float64Array;
  sqrtOneMinusAlphaBar: Float64Array;
  /** Posterior mean coefficient on x0. */
  gamma1: Float64Array;
  /** Posterior mean coefficient on x_t. */
  gamma2: Float64Array;
  /** Posterior variance. */
  betaTilde: Float64Array;
  /** c_t = beta_t / (sqrt(alpha_t) sqrt(1 - alphaBar_t)): maps an eps error to a mean error. */
  c: Float64Array;
  /** The paper's tau_t (Theorem 1); tau at paper t = 1 (j = 0) is 0. */
  tau: Float64Array;
}

export function makeSchedule(opts: ScheduleOptions): Schedule {
  const { T } = opts;
  if (!Number.isInteger(T) || T < 2) throw new Error(`schedule: T must be an integer >= 2, got ${T}`);
  const betas = new Float64Array(T);
  if (opts.kind === 'linear') {
    const b0 = opts.betaStart ?? 1e-4;
    const b1 = opts.betaEnd ?? 0.02;
    if (!(b0 > 0 && b1 < 1 && b0 <= b1)) {
      throw new Error(`schedule: need 0 < betaStart <= betaEnd < 1, got ${b0}, ${b1}`);
    }
    // numpy.linspace(b0, b1, T) in float64.
    const step = (b1 - b0) / (T - 1);
    for (let j = 0; j < T; j++) betas[j] = j === T - 1 ? b1 : b0 + j * step;
  } else if (opts.kind === 'cosine') {
    // Nichol & Dhariwal (2021): alphaBar(t) = f(t)/f(0), f(t) = cos^2(((t/T)+s)/(1+s) * pi/2), beta <= 0.999.
    const s = 0.008;
    const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
    for (let j = 0; j < T; j++) betas[j] = Math.min(1 - f(j + 1) / f(j), 0.999);
  } else {
    throw new Error(`schedule: unknown kind '${String(opts.kind)}' (expected linear or cosine)`);
  }
  return scheduleFromBetas(opts.kind, betas);
}

export function scheduleFromBetas(kind: ScheduleKind, betas: Float64Array): Schedule {
  const T = betas.length;
  const alphas = new Float64Array(T);
  const alphaBar = new Float64Array(T);
  const alphaBarPrev = new Float64Array(T);
  const sqrtAlphaBar = new Float64Array(T);
  const sqrtOneMinusAlphaBar = new Float64Array(T);
  const gamma1 = new Float64Array(T);
  const gamma2 = new Float64Array(T);
  const betaTilde = new Float64Array(T);
  const c = new Float64Array(T);
  const tau = new Float64Array(T);
  let prod = 1;
  for (let j = 0; j < T; j++) {
    const b = betas[j]!;
    alphas[j] = 1 - b;
    alphaBarPrev[j] = prod;
    prod *= 1 - b;
    alphaBar[j] = prod;
    sqrtAlphaBar[j] = Math.sqrt(prod);
    sqrtOneMinusAlphaBar[j] = Math.sqrt(1 - prod);
    gamma1[j] = (Math.sqrt(alphaBarPrev[j]!) * b) / (1 - prod);
    gamma2[j] = (Math.sqrt(1 - b) * (1 - alphaBarPrev[j]!)) / (1 - prod);
    betaTilde[j] = ((1 - alphaBarPrev[j]!) / (1 - prod)) * b;
    c[j] = b / (Math.sqrt(1 - b) * Math.sqrt(1 - prod));
  }
  // tau_t = sqrt(abar_{t-1})(1-abar_1) / (sqrt(alpha_1)(1-abar_{t-1})) * gamma1_t * sqrt(1-abar_t)/sqrt(abar_t), t >= 2.
  const abar1 = alphaBar[0]!;
  const sqrtAlpha1 = Math.sqrt(alphas[0]!);
  tau[0] = 0;
  for (let j = 1; j < T; j++) {
    tau[j] =
      ((Math.sqrt(alphaBarPrev[j]!) * (1 - abar1)) / (sqrtAlpha1 * (1 - alphaBarPrev[j]!))) *
      gamma1[j]! *
      (sqrtOneMinusAlphaBar[j]! / sqrtAlphaBar[j]!);
  }
  return {
    kind,
    T,
    betas,
    alphas,
    alphaBar,
    alphaBarPrev,
    sqrtAlphaBar,
    sqrtOneMinusAlphaBar,
    gamma1,
    gamma2,
    betaTilde,
    c,
    tau,
  };
}

/** Gathers coefficient values at integer indices into a float32 array (host side). */
export function gather(coef: Float64Array, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    out[i] = j >= 0 && j < coef.length ? coef[j]! : 0;
  }
  return out;
}
