import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { makeSchedule } from '../../../src/engine/diffusion/schedule';
import { Rng, Stream } from '../../../src/engine/rng';
import {
  SAMPLER_NAMES,
  analyticSigma2,
  gammaKey,
  sampleWithTrajectory,
  samplerParts,
  timestepSequence,
  varianceStep,
  varianceStepCoefficients,
  headSigma2,
  type CovModel,
  type EpsModel,
  type GammaEstimate,
  type SampleOptions,
  type SamplerName,
  type Spacing,
  type VarianceSource,
} from '../../../src/engine/diffusion/samplers';

const T = 20;
const schedule = makeSchedule({ kind: 'linear', T, betaStart: 1e-3, betaEnd: 0.2 });
const shape: [number, number, number] = [4, 4, 1];
const P = 16;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// ε model f(x, j) = 0.5 x + 0.01 j and a head h(x, j) = 0.05 + 0.6 x² + 0.002 j, elementwise.
const epsJs = (x: number, j: number) => 0.5 * x + 0.01 * j;
const headJs = (x: number, j: number) => 0.05 + 0.6 * x * x + 0.002 * j;
const jCol = (j: tf.Tensor1D, c: number) => tf.reshape(tf.mul(j, c), [-1, 1, 1, 1]);
const toy: EpsModel = (x, j) => tf.tidy(() => tf.add(tf.mul(x, 0.5), jCol(j, 0.01)) as tf.Tensor4D);
const toyCov: CovModel = (x, j) =>
  tf.tidy(() => {
    const head = tf.add(tf.add(tf.mul(tf.square(x), 0.6), 0.05), jCol(j, 0.002)) as tf.Tensor4D;
    return { eps: toy(x, j), head };
  });

const abar = (j: number) => (j < 0 ? 1 : schedule.alphaBar[j]!);

/** A Γ estimate with made-up values, one of them above 1 (exercises the clip of Cov[x0 | x] at 0). */
function gammaFor(seq: number[]): GammaEstimate {
  const parts = { checkpointStep: 0, ema: false, T, trajectory: seq, nImages: 1, seed: 0 };
  const gamma = seq.map((j, m) => (m === 1 ? 1.2 : 0.15 + 0.04 * j));
  return { kind: 'sadpm-gamma', version: 1, key: gammaKey(parts), ...parts, gamma };
}

function sourceFor(sampler: SamplerName, seq: number[]): VarianceSource {
  const v = samplerParts(sampler).variance;
  if (v === 'none') return { kind: 'none' };
  if (v === 'gamma') return { kind: 'gamma', gamma: gammaFor(seq) };
  return { kind: 'head', head: v, model: toyCov };
}

interface RefOptions {
  sampler: SamplerName;
  spacing: Spacing;
  steps: number;
  eta: number;
  seed: number;
  n: number;
  clipX0: boolean;
  clipPixel: number;
}

/**
 * The variance samplers in plain float64, written from the papers' formulas (not from covariance.ts):
 *   Cov[x0|x] = β̄_r/ᾱ_r (1 - Γ) | β̄_r/ᾱ_r h | β̄_r/ᾱ_r (h - ε²), clipped to [0, 1];
 *   σ² = λ² + (√(β̄_r/α) - √(β̄_s - λ²))² · Cov[x0|x] / (β̄_r/ᾱ_r),  α = ᾱ_r/ᾱ_s;
 *   σ² capped at (clipPixel · 2/255 · √(π/2))² on the step before the last; no noise on the last.
 */
function reference(o: RefOptions): Float64Array {
  const seq = timestepSequence(T, o.steps, o.spacing);
  const S = seq.length;
  const { family, variance } = samplerParts(o.sampler);
  const gamma = gammaFor(seq).gamma;
  const cap = ((o.clipPixel * 2) / 255) ** 2 * (Math.PI / 2);
  const out = new Float64Array(o.n * P);
  for (let g = 0; g < o.n; g++) {
    let x = Array.from(Rng.keyed(o.seed, g, Stream.sampleInit).normal(P), Number);
    for (let k = 0; k < S; k++) {
      const m = S - 1 - k;
      const r = seq[m]!;
      const s = m > 0 ? seq[m - 1]! : -1;
      const ar = abar(r);
      const as = abar(s);
      const br = 1 - ar;
      const bs = 1 - as;
      const alpha = ar / as;
      const betaTilde = ((1 - alpha) * bs) / br;
      const lambda2 = family === 'ddpm' ? betaTilde : o.eta * o.eta * betaTilde;
      const e = x.map((v) => epsJs(v, r));
      const h = x.map((v) => headJs(v, r));
      const clip = (v: number) => Math.min(1, Math.max(-1, v));
      const x0raw = x.map((v, p) => (v - Math.sqrt(br) * e[p]!) / Math.sqrt(ar));
      const x0 = family === 'ddpm' || o.clipX0 ? x0raw.map(clip) : x0raw;
      const mean =
        family === 'ddpm'
          ? x0.map((v, p) => (Math.sqrt(as) * (1 - alpha) * v + Math.sqrt(alpha) * bs * x[p]!) / br)
          : x0.map((v, p) => Math.sqrt(as) * v + Math.sqrt(bs - lambda2) * e[p]!);
      if (s < 0) {
        x = mean;
        break;
      }
      const z = Rng.keyed(o.seed, g, Stream.sampleStep, k).normal(P);
      const coef = (Math.sqrt(br / alpha) - Math.sqrt(bs - lambda2)) ** 2 / (br / ar);
      x = mean.map((v, p) => {
        const noiseVar = variance === 'gamma' ? 1 - gamma[m]! : variance === 'npr' ? h[p]! : h[p]! - e[p]! * e[p]!;
        const cov = Math.min(1, Math.max(0, (br / ar) * noiseVar));
        let s2 = lambda2 + coef * cov;
        if (k === S - 2) s2 = Math.min(s2, cap);
        return v + Math.sqrt(s2) * z[p]!;
      });
    }
    x.forEach((v, p) => (out[g * P + p] = Math.min(1, Math.max(-1, v))));
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const variance6 = SAMPLER_NAMES.filter((s) => samplerParts(s).variance !== 'none');

function opts(sampler: SamplerName, over: Partial<SampleOptions> = {}): SampleOptions {
  const steps = over.steps ?? 5;
  const spacing = over.spacing ?? 'uniform';
  return {
    model: toy,
    schedule,
    n: 3,
    shape,
    sampler,
    steps,
    spacing,
    eta: 0.3,
    seed: 11,
    batchSize: 2,
    variance: sourceFor(sampler, timestepSequence(T, steps, spacing)),
    ...over,
  };
}

describe('variance samplers: one reverse step against the formula', () => {
  const xs = Float32Array.from({ length: 2 * P }, (_, i) => Math.sin(i * 1.3) * 1.7);
  const z = Float32Array.from({ length: 2 * P }, (_, p) => Math.cos(p * 0.7));
  it.each(variance6)('%s: x_next = μ + σ z, elementwise, from index 12 to 8', (sampler) => {
    const { family, variance } = samplerParts(sampler);
    const [r, s, eta, gamma] = [12, 8, 0.4, 0.35];
    const k = varianceStepCoefficients(schedule, r, s, { family, eta, clipX0: true, cap: Infinity });
    const got = tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 4, 4, 1]);
      const j = tf.fill([2], r, 'float32') as tf.Tensor1D;
      const { eps, head } = toyCov(x, j);
      const sigma2 =
        variance === 'gamma' ? analyticSigma2(k, gamma) : headSigma2(k, variance as 'npr' | 'sn', head, eps);
      return varianceStep(x, eps, k, sigma2, tf.tensor4d(z, [2, 4, 4, 1])).xNext.dataSync();
    });
    const ar = abar(r);
    const as = abar(s);
    const alpha = ar / as;
    const betaTilde = ((1 - alpha) * (1 - as)) / (1 - ar);
    const lambda2 = family === 'ddpm' ? betaTilde : eta * eta * betaTilde;
    let clippedCov = 0;
    for (let p = 0; p < xs.length; p++) {
      const x = xs[p]!;
      const e = epsJs(x, r);
      const h = headJs(x, r);
      const x0 = Math.min(1, Math.max(-1, (x - Math.sqrt(1 - ar) * e) / Math.sqrt(ar)));
      const mean =
        family === 'ddpm'
          ? (Math.sqrt(as) * (1 - alpha) * x0 + Math.sqrt(alpha) * (1 - as) * x) / (1 - ar)
          : Math.sqrt(as) * x0 + Math.sqrt(1 - as - lambda2) * e;
      const noiseVar = variance === 'gamma' ? 1 - gamma : variance === 'npr' ? h : h - e * e;
      const rawCov = ((1 - ar) / ar) * noiseVar;
      if (rawCov < 0 || rawCov > 1) clippedCov++;
      const cov = Math.min(1, Math.max(0, rawCov));
      const s2 = lambda2 + ((Math.sqrt((1 - ar) / alpha) - Math.sqrt(1 - as - lambda2)) ** 2 / ((1 - ar) / ar)) * cov;
      expect(Math.abs(got[p]! - (mean + Math.sqrt(s2) * z[p]!))).toBeLessThan(2e-5);
    }
    if (variance !== 'gamma') expect(clippedCov).toBeGreaterThan(0); // the clip of Cov[x0 | x] is exercised
  });
});

describe('variance samplers: whole chains against a float64 reference', () => {
  const cases: [SamplerName, Spacing, number][] = [];
  for (const s of variance6) cases.push([s, 'uniform', 5], [s, 'trailing', 4]);
  it.each(cases)('%s %s S=%i', async (sampler, spacing, steps) => {
    const before = tf.memory().numTensors;
    const got = await sampleWithTrajectory(opts(sampler, { spacing, steps }));
    expect(tf.memory().numTensors).toBe(before);
    const family = samplerParts(sampler).family;
    const clipPixel = family === 'ddpm' ? 2 : 1;
    const ref = reference({ sampler, spacing, steps, eta: 0.3, seed: 11, n: 3, clipX0: true, clipPixel });
    expect(maxAbsDiff(got.images, ref)).toBeLessThan(1e-4);
    if (samplerParts(sampler).variance === 'gamma') {
      expect(got.sigma2).toHaveLength(got.sequence.length);
      expect(got.sigma2!.at(-1)).toBe(0);
    } else expect(got.sigma2).toBeUndefined();
  });

  it('analytic-ddim without x0 clipping, another clip_pixel, and no clipped step', async () => {
    const got = await sampleWithTrajectory(opts('analytic-ddim', { clipX0: false, clipPixel: 3 }));
    const o = { sampler: 'analytic-ddim', spacing: 'uniform', steps: 5, eta: 0.3, seed: 11, n: 3 } as const;
    const ref = reference({ ...o, clipX0: false, clipPixel: 3 });
    expect(maxAbsDiff(got.images, ref)).toBeLessThan(1e-4);
    const clipped = await sampleWithTrajectory(opts('analytic-ddim', { clipX0: true, clipPixel: 3 }));
    expect(maxAbsDiff(clipped.images, got.images)).toBeGreaterThan(1e-3); // the option changes the chain
    const free = await sampleWithTrajectory(opts('analytic-ddpm', { clipSigmaSteps: 0 }));
    const capped = await sampleWithTrajectory(opts('analytic-ddpm'));
    expect(free.sigma2![3]).toBeGreaterThan(capped.sigma2![3]!);
    expect(free.sigma2!.slice(0, 3)).toEqual(capped.sigma2!.slice(0, 3));
  });

  it('ddpm and ddim are unchanged by the new path (no variance source)', async () => {
    const a = await sampleWithTrajectory(opts('ddpm', { variance: undefined }));
    const b = await sampleWithTrajectory(opts('ddpm', { variance: { kind: 'none' } }));
    expect(Array.from(a.images)).toEqual(Array.from(b.images));
  });
});

describe('variance samplers: determinism and per-image seeds', () => {
  it.each(variance6)('%s: same seed same images whatever the batch; another seed differs', async (sampler) => {
    const b3 = await sampleWithTrajectory(opts(sampler, { n: 4, batchSize: 3 }));
    const b1 = await sampleWithTrajectory(opts(sampler, { n: 4, batchSize: 1 }));
    const again = await sampleWithTrajectory(opts(sampler, { n: 4, batchSize: 3 }));
    expect(Array.from(again.images)).toEqual(Array.from(b3.images));
    expect(maxAbsDiff(b1.images, b3.images)).toBeLessThan(1e-5);
    const tail = await sampleWithTrajectory(opts(sampler, { n: 2, firstImage: 2 }));
    expect(maxAbsDiff(tail.images, b3.images.subarray(2 * P))).toBeLessThan(1e-5);
    const other = await sampleWithTrajectory(opts(sampler, { n: 4, seed: 12 }));
    expect(maxAbsDiff(other.images, b3.images)).toBeGreaterThan(1e-2);
  });
});

describe('variance samplers: validation', () => {
  it('asks for the source each sampler needs', async () => {
    const seq = timestepSequence(T, 5, 'uniform');
    const run = (s: SamplerName, over: Partial<SampleOptions>) => sampleWithTrajectory(opts(s, over));
    const gamma: VarianceSource = { kind: 'gamma', gamma: gammaFor(seq) };
    await expect(run('analytic-ddpm', { variance: undefined })).rejects.toThrow(
      /sampler 'analytic-ddpm' needs a Γ estimate \(variance kind 'gamma'\), got 'none'/,
    );
    await expect(run('npr-ddim', { variance: { kind: 'head', head: 'sn', model: toyCov } })).rejects.toThrow(
      /sampler 'npr-ddim' needs an NPR covariance head, got an SN head/,
    );
    await expect(run('sn-ddpm', { variance: gamma })).rejects.toThrow(
      /sampler 'sn-ddpm' needs an SN covariance head, got 'gamma'/,
    );
    await expect(run('ddim', { variance: gamma })).rejects.toThrow(
      /sampler 'ddim' takes no variance source \(got 'gamma'\)/,
    );
    await expect(run('analytic-ddim', { steps: 4, variance: gamma })).rejects.toThrow(
      /has no value at index 5, 10, 15: estimate Γ for this trajectory first/,
    );
    await expect(run('npr-ddpm', { clipPixel: 0 })).rejects.toThrow(/clipPixel must be a finite number > 0, got 0/);
    await expect(run('sn-ddim', { eta: 5 })).rejects.toThrow(/eta = 5 too large/);
    await expect(run('sn-ddim', { sampler: 'sn-ddx' as SamplerName })).rejects.toThrow(
      /unknown sampler 'sn-ddx' \(expected ddim, ddpm, analytic-ddpm/,
    );
  });
});
