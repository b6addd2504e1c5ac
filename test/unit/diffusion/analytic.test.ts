import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { makeSchedule } from '../../../src/engine/diffusion/schedule';
import {
  analyticSigma2,
  estimateGamma,
  gammaAlong,
  gammaKey,
  parseGammaEstimate,
  sigma2Cap,
  stepCaps,
  timestepSequence,
  varianceStepCoefficients,
  type GammaEstimate,
} from '../../../src/engine/diffusion/samplers';
import {
  exactGamma,
  exactPredictor,
  familyLambda2,
  optimalVarianceByConditioning,
  toyImages,
  toyMu,
} from './toyGaussian';

const schedule = makeSchedule({ kind: 'linear', T: 100, betaStart: 1e-3, betaEnd: 0.1 });
const d = toyMu.length;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** The steps (r, s) of a walk over `seq`, in sampling order. */
function steps(seq: number[]): [number, number][] {
  return seq.map((_, m) => [seq[seq.length - 1 - m]!, seq.length - 2 - m >= 0 ? seq[seq.length - 2 - m]! : -1]);
}

const families: { family: 'ddpm' | 'ddim'; eta: number }[] = [
  { family: 'ddpm', eta: 0 },
  { family: 'ddim', eta: 0 },
  { family: 'ddim', eta: 0.5 },
  { family: 'ddim', eta: 1 },
];

describe('Analytic-DPM on Gaussian data (closed-form optimum)', () => {
  it('σ*² from the exact Γ equals Var[x_s | x_r] of the family, to 1e-6 relative, on every noisy step', () => {
    for (const spacing of ['uniform', 'quad', 'trailing'] as const) {
      const seq = timestepSequence(schedule.T, 10, spacing);
      for (const { family, eta } of families) {
        for (const [r, s] of steps(seq)) {
          const k = varianceStepCoefficients(schedule, r, s, { family, eta, clipX0: true, cap: Infinity });
          const got = analyticSigma2(k, exactGamma(schedule, r));
          if (s < 0) {
            expect(got).toBe(0); // the last step adds no noise (official: x = x_mean at s = 0)
            continue;
          }
          const ref = optimalVarianceByConditioning(schedule, r, s, familyLambda2(schedule, r, s, family, eta));
          expect(Math.abs(got - ref) / ref).toBeLessThan(1e-6);
          // Theorem 2: λ² <= σ*² <= λ² + (√(β̄_r/α) - √(β̄_s - λ²))².
          const ar = schedule.alphaBar[r]!;
          const as = schedule.alphaBar[s]!;
          const upper = k.lambda2 + (Math.sqrt((1 - ar) / (ar / as)) - Math.sqrt(1 - as - k.lambda2)) ** 2;
          expect(got).toBeGreaterThanOrEqual(k.lambda2);
          expect(got).toBeLessThanOrEqual(upper * (1 + 1e-12));
        }
      }
    }
  });

  it('caps σ² on the step before the last at (clipPixel · 2/255 · √(π/2))², as the official clip_sigma', () => {
    const seq = timestepSequence(schedule.T, 10, 'uniform');
    const caps = stepCaps(seq.length, 1, 2);
    expect(caps.filter(Number.isFinite)).toEqual([sigma2Cap(2)]);
    expect(caps[seq.length - 2]).toBe(sigma2Cap(2));
    expect(sigma2Cap(2)).toBeCloseTo(((4 / 255) * Math.sqrt(Math.PI / 2)) ** 2, 15);
    const [r, s] = steps(seq)[seq.length - 2]!;
    const settings = { family: 'ddpm', eta: 0, clipX0: true, cap: caps[seq.length - 2]! } as const;
    const k = varianceStepCoefficients(schedule, r, s, settings);
    const free = optimalVarianceByConditioning(schedule, r, s, familyLambda2(schedule, r, s, 'ddpm', 0));
    expect(free).toBeGreaterThan(sigma2Cap(2)); // the cap is active here, so this checks it
    expect(analyticSigma2(k, exactGamma(schedule, r))).toBe(sigma2Cap(2));
    expect(stepCaps(5, 0, 1).every((c) => c === Infinity)).toBe(true);
    expect(stepCaps(5, 2, 1).map(Number.isFinite)).toEqual([false, false, true, true, false]);
  });

  it('clips Cov[x0 | x_r] to [0, 1]: Γ > 1 gives λ², Γ = 0 with a huge β̄/ᾱ gives the data bound', () => {
    const [r, s] = [99, 89];
    const k = varianceStepCoefficients(schedule, r, s, { family: 'ddim', eta: 0.5, clipX0: true, cap: Infinity });
    expect(k.covScale).toBeGreaterThan(1);
    expect(analyticSigma2(k, 1.3)).toBe(k.lambda2);
    expect(analyticSigma2(k, 0)).toBeCloseTo(k.lambda2 + k.coefCov * 1, 15);
  });

  it('estimates Γ by Monte Carlo within its statistical error, and σ² with it', async () => {
    const seq = timestepSequence(schedule.T, 10, 'uniform');
    const M = 20000;
    const est = await estimateGamma({
      model: exactPredictor(schedule),
      schedule,
      images: toyImages(M),
      trajectory: seq,
      nImages: M,
      seed: 3,
      checkpointStep: 0,
      ema: false,
      batchSize: 2500,
    });
    expect(est.trajectory).toEqual(seq);
    for (let m = 0; m < seq.length; m++) {
      const j = seq[m]!;
      const g = exactGamma(schedule, j);
      // Each coordinate of ε* is N(0, Γ): ε*² has mean Γ and variance 2Γ², so the mean of M·d draws has sd
      // Γ·√(2/(M d)); the images are i.i.d. draws of the data distribution, so the estimate is unbiased.
      const sd = g * Math.sqrt(2 / (M * d));
      expect(Math.abs(est.gamma[m]! - g)).toBeLessThan(4.5 * sd);
    }
    for (const [r, s] of steps(seq)) {
      if (s < 0) continue;
      const k = varianceStepCoefficients(schedule, r, s, { family: 'ddpm', eta: 0, clipX0: true, cap: Infinity });
      const ref = optimalVarianceByConditioning(schedule, r, s, k.lambda2);
      const sdSigma = k.coefCov * k.covScale * exactGamma(schedule, r) * Math.sqrt(2 / (M * d));
      expect(Math.abs(analyticSigma2(k, gammaAlong(est, [r], schedule.T)[0]!) - ref)).toBeLessThan(4.5 * sdSigma);
    }
  });

  it('Γ at an index depends on neither trajectory nor batch size: an estimate serves sub-trajectories', async () => {
    const model = exactPredictor(schedule);
    const images = toyImages(300);
    const base = { model, schedule, images, nImages: 40, seed: 9, checkpointStep: 7, ema: true };
    const before = tf.memory().numTensors;
    const wide = await estimateGamma({ ...base, trajectory: [0, 10, 20, 50, 99], batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
    const narrow = await estimateGamma({ ...base, trajectory: [10, 99], batchSize: 40 });
    expect(Array.from(gammaAlong(wide, [10, 99], schedule.T))).toEqual(narrow.gamma);
    expect(() => gammaAlong(narrow, [10, 20, 99], schedule.T)).toThrow(
      /has no value at index 20: estimate Γ for this trajectory first/,
    );
    expect(() => gammaAlong(narrow, [10], 200)).toThrow(/made for T = 100, the schedule has T = 200/);
    const other = await estimateGamma({ ...base, seed: 10, trajectory: [10, 99], batchSize: 40 });
    expect(other.gamma).not.toEqual(narrow.gamma);
    let calls = 0;
    await estimateGamma({ ...base, trajectory: [10, 99], batchSize: 15, onStep: () => (calls += 1) });
    expect(calls).toBe(2 * 3);
  });

  it('gives a stable key and validates stored estimates', async () => {
    const parts = { checkpointStep: 5000, ema: true, T: 1000, trajectory: [0, 100, 200], nImages: 200, seed: 1 };
    expect(gammaKey(parts)).toBe(gammaKey({ ...parts, trajectory: [0, 100, 200] }));
    expect(gammaKey(parts)).toMatch(/^gamma-v1:step5000:ema:T1000:n200:seed1:traj3x[0-9a-f]{8}$/);
    expect(gammaKey({ ...parts, trajectory: [0, 100, 201] })).not.toBe(gammaKey(parts));
    expect(gammaKey({ ...parts, ema: false })).not.toBe(gammaKey(parts));
    const est = await estimateGamma({
      model: exactPredictor(schedule),
      schedule,
      images: toyImages(50),
      trajectory: [3, 60],
      nImages: 20,
      seed: 2,
      checkpointStep: 11,
      ema: false,
    });
    const back = parseGammaEstimate(JSON.parse(JSON.stringify(est)), 'cache row 4');
    expect(back).toEqual(est);
    const bad = (patch: Partial<GammaEstimate>) => () => parseGammaEstimate({ ...est, ...patch }, 'cache row 4');
    expect(bad({ gamma: [0.5] })).toThrow(/cache row 4: bad Γ estimate \(1 Γ values for 2 indices\)/);
    expect(bad({ trajectory: [60, 3] })).toThrow(/cache row 4: bad Γ estimate \(indices must increase \(60 then 3\)\)/);
    expect(bad({ nImages: 21 })).toThrow(/cache row 4: Γ estimate key .* does not match its contents/);
    expect(bad({ gamma: [0.5, -1] })).toThrow(/cache row 4: not a Γ estimate \(field 'gamma.1'/);
    expect(() => parseGammaEstimate('x', 'file g.json')).toThrow(/file g.json: not a Γ estimate/);
  });

  it('refuses bad inputs with clear errors', async () => {
    const model = exactPredictor(schedule);
    const o = { model, schedule, images: toyImages(10), nImages: 5, seed: 0, checkpointStep: 0, ema: false };
    await expect(estimateGamma({ ...o, trajectory: [5, 5] })).rejects.toThrow(
      /bad trajectory \(indices must increase \(5 then 5\)\)/,
    );
    await expect(estimateGamma({ ...o, trajectory: [100] })).rejects.toThrow(/index 100 outside 0..99/);
    const tooMany = estimateGamma({ ...o, trajectory: [1], nImages: 11 });
    await expect(tooMany).rejects.toThrow(/cannot pick 11 images from a pool of 10/);
    const ctl = new AbortController();
    ctl.abort();
    const cancelled = estimateGamma({ ...o, trajectory: [1], signal: ctl.signal });
    await expect(cancelled).rejects.toThrow(/gamma estimate cancelled/);
  });
});
