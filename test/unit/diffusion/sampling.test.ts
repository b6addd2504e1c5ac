import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { makeSchedule, type Schedule } from '../../../src/engine/diffusion/schedule';
import { Rng, Stream } from '../../../src/engine/rng';
import {
  ddimCoefficients,
  ddimStep,
  ddpmCoefficients,
  ddpmStep,
  sample,
  sampleWithTrajectory,
  timestepSequence,
  toUint8,
  type DdpmVariance,
  type EpsModel,
  type SampleOptions,
  type SamplerName,
  type Spacing,
} from '../../../src/engine/diffusion/samplers';

const T = 20;
const schedule = makeSchedule({ kind: 'linear', T, betaStart: 1e-3, betaEnd: 0.2 });
const shape: [number, number, number] = [4, 4, 1];
const P = 16;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// Toy network: f(x, j) = 0.5 x + 0.01 j, elementwise.
const toy: EpsModel = (x, j) => tf.add(tf.mul(x, 0.5), tf.reshape(tf.mul(j, 0.01), [-1, 1, 1, 1])) as tf.Tensor4D;
const toyJs = (x: number, j: number) => 0.5 * x + 0.01 * j;

// A network that mixes pixels within an image (never across the batch).
const mixing: EpsModel = (x, j) =>
  tf.tidy(() => {
    const m = tf.mean(x, [1, 2, 3], true);
    const jt = tf.reshape(tf.mul(j, 0.003), [-1, 1, 1, 1]);
    return tf.add(tf.add(tf.mul(x, 0.3), tf.mul(tf.sin(m), 0.4)), jt) as tf.Tensor4D;
  });

const abar = (s: Schedule, j: number) => (j < 0 ? 1 : s.alphaBar[j]!);

/** The whole sampler in plain JS numbers, image by image, with the same per-image streams. */
function referenceSample(o: {
  sampler: SamplerName;
  steps: number;
  spacing: Spacing;
  eta: number;
  seed: number;
  n: number;
  firstImage?: number;
  variance?: DdpmVariance;
  keepX0?: number;
}): { images: Float64Array; x0AtKeep: Float64Array } {
  const seq = timestepSequence(T, o.steps, o.spacing);
  const images = new Float64Array(o.n * P);
  const x0AtKeep = new Float64Array(o.n * P);
  for (let b = 0; b < o.n; b++) {
    const g = (o.firstImage ?? 0) + b;
    let x = Array.from(Rng.keyed(o.seed, g, Stream.sampleInit).normal(P));
    for (let m = seq.length - 1, k = 0; m >= 0; m--, k++) {
      const i = seq[m]!;
      const nx = m > 0 ? seq[m - 1]! : -1;
      const at = abar(schedule, i);
      const an = abar(schedule, nx);
      const e = x.map((v) => toyJs(v, i));
      let x0: number[];
      if (o.sampler === 'ddim') {
        x0 = x.map((v, p) => (v - Math.sqrt(1 - at) * e[p]!) / Math.sqrt(at));
        const c1 = o.eta * Math.sqrt(((1 - at / an) * (1 - an)) / (1 - at));
        const c2 = Math.sqrt(1 - an - c1 * c1);
        const z = c1 !== 0 ? Array.from(Rng.keyed(o.seed, g, Stream.sampleStep, k).normal(P)) : null;
        x = x0.map((v, p) => Math.sqrt(an) * v + c1 * (z ? z[p]! : 0) + c2 * e[p]!);
      } else {
        const beta = 1 - at / an;
        x0 = x.map((v, p) => Math.min(1, Math.max(-1, Math.sqrt(1 / at) * v - Math.sqrt(1 / at - 1) * e[p]!)));
        const mean = x0.map((v, p) => (Math.sqrt(an) * beta * v + Math.sqrt(1 - beta) * (1 - an) * x[p]!) / (1 - at));
        const variance = (o.variance ?? 'beta') === 'beta' ? beta : (beta * (1 - an)) / (1 - at);
        const z = nx >= 0 ? Array.from(Rng.keyed(o.seed, g, Stream.sampleStep, k).normal(P)) : null;
        x = mean.map((v, p) => v + (z ? Math.sqrt(variance) * z[p]! : 0));
      }
      if (k === o.keepX0) x0.forEach((v, p) => (x0AtKeep[b * P + p] = Math.min(1, Math.max(-1, v))));
    }
    x.forEach((v, p) => (images[b * P + p] = Math.min(1, Math.max(-1, v))));
  }
  return { images, x0AtKeep };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const base = (over: Partial<SampleOptions> = {}): SampleOptions => ({
  model: toy,
  schedule,
  n: 2,
  shape,
  sampler: 'ddim',
  steps: 5,
  spacing: 'uniform',
  eta: 0,
  seed: 7,
  batchSize: 2,
  ...over,
});

describe('single steps against the hand formulas', () => {
  const xs = Float32Array.from({ length: 2 * P }, (_, i) => Math.sin(i * 1.3) * 1.7);
  const xsJs = Array.from(xs);

  it('one DDIM step (eta = 0.7) matches the formula elementwise', () => {
    const i = 12;
    const nx = 8;
    const eta = 0.7;
    const z = Float32Array.from({ length: 2 * P }, (_, p) => Math.cos(p * 0.7));
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 4, 4, 1]);
      const e = toy(x, tf.fill([2], i, 'float32') as tf.Tensor1D);
      const r = ddimStep(x, e, ddimCoefficients(schedule, i, nx, eta), tf.tensor4d(z, [2, 4, 4, 1]));
      return [r.xNext, r.x0];
    });
    const [xNext, x0] = [got[0]!.dataSync(), got[1]!.dataSync()];
    tf.dispose(got);
    expect(tf.memory().numTensors).toBe(before);
    const at = schedule.alphaBar[i]!;
    const an = schedule.alphaBar[nx]!;
    const c1 = eta * Math.sqrt(((1 - at / an) * (1 - an)) / (1 - at));
    const c2 = Math.sqrt(1 - an - c1 * c1);
    expect(c1).toBeGreaterThan(0);
    for (let p = 0; p < xsJs.length; p++) {
      const e = toyJs(xsJs[p]!, i);
      const x0r = (xsJs[p]! - Math.sqrt(1 - at) * e) / Math.sqrt(at);
      expect(x0[p]).toBeCloseTo(x0r, 5);
      expect(xNext[p]).toBeCloseTo(Math.sqrt(an) * x0r + c1 * z[p]! + c2 * e, 5);
    }
  });

  it('DDIM does not clip x0 and the last step (next = -1) returns x0', () => {
    const k = ddimCoefficients(schedule, 3, -1, 1);
    expect(k.c1).toBe(0);
    expect(k.c2).toBe(0);
    expect(k.sqrtAnext).toBe(1);
    const [xn, x0] = tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 4, 4, 1]);
      const r = ddimStep(x, tf.mul(x, -3) as tf.Tensor4D, k, null);
      return [r.xNext.dataSync(), r.x0.dataSync()];
    });
    expect(Math.max(...Array.from(x0!).map(Math.abs))).toBeGreaterThan(1);
    expect(Array.from(xn!)).toEqual(Array.from(x0!));
  });

  it.each(['beta', 'posterior'] as const)(
    'one DDPM step (variance %s) matches the formula, with x0 clipping',
    (variance) => {
      const i = 15;
      const nx = 10;
      const z = Float32Array.from({ length: 2 * P }, (_, p) => Math.cos(p * 0.9));
      const [xNext, x0] = tf.tidy(() => {
        const x = tf.tensor4d(xs, [2, 4, 4, 1]);
        const e = toy(x, tf.fill([2], i, 'float32') as tf.Tensor1D);
        const r = ddpmStep(x, e, ddpmCoefficients(schedule, i, nx, variance), tf.tensor4d(z, [2, 4, 4, 1]));
        return [r.xNext.dataSync(), r.x0.dataSync()];
      });
      const at = schedule.alphaBar[i]!;
      const an = schedule.alphaBar[nx]!;
      const beta = 1 - at / an;
      const sigma = Math.sqrt(variance === 'beta' ? beta : (beta * (1 - an)) / (1 - at));
      let clipped = 0;
      for (let p = 0; p < xsJs.length; p++) {
        const x = xsJs[p]!;
        const e = toyJs(x, i);
        const raw = Math.sqrt(1 / at) * x - Math.sqrt(1 / at - 1) * e;
        if (Math.abs(raw) > 1) clipped++;
        const x0r = Math.min(1, Math.max(-1, raw));
        expect(x0![p]).toBeCloseTo(x0r, 5);
        const mean = (Math.sqrt(an) * beta * x0r + Math.sqrt(1 - beta) * (1 - an) * x) / (1 - at);
        expect(xNext![p]).toBeCloseTo(mean + sigma * z[p]!, 5);
      }
      expect(clipped).toBeGreaterThan(3); // the clip is exercised
      expect(clipped).toBeLessThan(xsJs.length);
    },
  );

  it('DDPM adds no noise on the last step; posterior variance is smaller than beta', () => {
    expect(ddpmCoefficients(schedule, 0, -1).sigma).toBe(0);
    expect(ddpmCoefficients(schedule, 4, -1, 'posterior').sigma).toBe(0);
    const b = ddpmCoefficients(schedule, 10, 5, 'beta').sigma;
    const p = ddpmCoefficients(schedule, 10, 5, 'posterior').sigma;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(b);
  });

  it('rejects an eta that makes the DDIM variance negative', () => {
    expect(() => ddimCoefficients(schedule, 10, 5, 5)).toThrow(/too large/);
  });
});

describe('sample: whole chains against a plain-JS reference', () => {
  const cases: Array<[SamplerName, Spacing, number, number]> = [
    ['ddim', 'uniform', 5, 0],
    ['ddim', 'quad', 6, 0],
    ['ddim', 'trailing', 4, 1],
    ['ddim', 'uniform', 7, 0.5],
    ['ddpm', 'uniform', 5, 0],
    ['ddpm', 'trailing', 6, 0],
    ['ddpm', 'uniform', 20, 0],
  ];
  it.each(cases)('%s %s S=%i eta=%d', async (sampler, spacing, steps, eta) => {
    const before = tf.memory().numTensors;
    const got = await sample(base({ sampler, spacing, steps, eta, n: 3, batchSize: 2, seed: 11 }));
    expect(tf.memory().numTensors).toBe(before);
    const ref = referenceSample({ sampler, spacing, steps, eta, seed: 11, n: 3 });
    expect(maxAbsDiff(got, ref.images)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(got).map(Math.abs))).toBeLessThanOrEqual(1);
  });

  it('DDPM with posterior variance', async () => {
    const got = await sample(base({ sampler: 'ddpm', steps: 10, ddpmVariance: 'posterior', n: 2 }));
    const ref = referenceSample({
      sampler: 'ddpm',
      steps: 10,
      spacing: 'uniform',
      eta: 0,
      seed: 7,
      n: 2,
      variance: 'posterior',
    });
    expect(maxAbsDiff(got, ref.images)).toBeLessThan(1e-4);
  });

  it('DDIM eta = 0 is deterministic; only x_T depends on the seed (the reference draws no step noise)', async () => {
    const a = await sample(base({ steps: 10 }));
    const b = await sample(base({ steps: 10 }));
    expect(Array.from(a)).toEqual(Array.from(b));
    const other = await sample(base({ steps: 10, seed: 8 }));
    expect(maxAbsDiff(a, other)).toBeGreaterThan(1e-2);
    // The reference for eta = 0 never touches Stream.sampleStep: it depends on x_T alone.
    const ref = referenceSample({ sampler: 'ddim', steps: 10, spacing: 'uniform', eta: 0, seed: 7, n: 2 });
    expect(maxAbsDiff(a, ref.images)).toBeLessThan(1e-4);
  });

  it('eta > 0 does use the step noise', async () => {
    const a = await sample(base({ steps: 10, eta: 0 }));
    const b = await sample(base({ steps: 10, eta: 1 }));
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
  });
});

describe('per-image seeds', () => {
  it.each([
    ['ddpm', 0],
    ['ddim', 1],
    ['ddim', 0],
  ] as const)(
    '%s (eta %d): batch 1 and batch 4 give the same images; firstImage selects the streams',
    async (sampler, eta) => {
      const o = { model: mixing, n: 4, sampler, eta, steps: 6, seed: 3 } as const;
      const b4 = await sample(base({ ...o, batchSize: 4 }));
      const b1 = await sample(base({ ...o, batchSize: 1 }));
      const b3 = await sample(base({ ...o, batchSize: 3 }));
      expect(maxAbsDiff(b1, b4)).toBeLessThan(1e-5);
      expect(maxAbsDiff(b3, b4)).toBeLessThan(1e-5);
      const tail = await sample(base({ ...o, n: 2, firstImage: 2, batchSize: 2 }));
      expect(maxAbsDiff(tail, b4.subarray(2 * P))).toBeLessThan(1e-5);
      // Different images really differ.
      expect(maxAbsDiff(b4.subarray(0, P), b4.subarray(P, 2 * P))).toBeGreaterThan(1e-2);
    },
  );
});

describe('trajectory, progress, cancellation, validation', () => {
  it('keeps x0 predictions at the requested steps; DDIM last-step x0 equals the final image', async () => {
    const before = tf.memory().numTensors;
    const r = await sampleWithTrajectory(base({ n: 3, batchSize: 2, steps: 5, keepTrajectory: [4, 0, 2] }));
    expect(tf.memory().numTensors).toBe(before);
    expect(r.sequence).toEqual([0, 4, 8, 12, 16]);
    expect(r.trajectory.map((f) => [f.step, f.j])).toEqual([
      [0, 16],
      [2, 8],
      [4, 0],
    ]);
    for (const f of r.trajectory) expect(f.x0.length).toBe(3 * P);
    expect(Array.from(r.trajectory[2]!.x0)).toEqual(Array.from(r.images));
    const ref = referenceSample({ sampler: 'ddim', steps: 5, spacing: 'uniform', eta: 0, seed: 7, n: 3, keepX0: 0 });
    expect(maxAbsDiff(r.trajectory[0]!.x0, ref.x0AtKeep)).toBeLessThan(1e-4);
  });

  it('x̂0 frames at every kept step = clip((x_t − √(1−ᾱ_t) ε)/√ᾱ_t) against a float64 reference (issue 15)', async () => {
    for (const [sampler, eta] of [
      ['ddpm', 0],
      ['ddim', 0.5],
    ] as const) {
      const keep = [0, 1, 2, 3, 4];
      const r = await sampleWithTrajectory(base({ sampler, eta, n: 3, batchSize: 2, steps: 5, keepTrajectory: keep }));
      for (const k of keep) {
        const ref = referenceSample({ sampler, steps: 5, spacing: 'uniform', eta, seed: 7, n: 3, keepX0: k });
        expect(maxAbsDiff(r.trajectory[k]!.x0, ref.x0AtKeep), `${sampler} step ${k}`).toBeLessThan(1e-4);
        expect(Math.max(...r.trajectory[k]!.x0.map(Math.abs))).toBeLessThanOrEqual(1);
      }
    }
  });

  it('keeps x_t beside x0 at those steps: the first is the starting noise, clipped for display', async () => {
    const r = await sampleWithTrajectory(base({ n: 2, batchSize: 2, steps: 5, keepTrajectory: [0, 3] }));
    for (const f of r.trajectory) expect(f.xt.length).toBe(2 * P);
    for (let b = 0; b < 2; b++) {
      const noise = Rng.keyed(7, b, Stream.sampleInit).normal(P);
      const clipped = Array.from(noise, (v) => Math.min(1, Math.max(-1, v)));
      expect(maxAbsDiff(r.trajectory[0]!.xt.subarray(b * P, (b + 1) * P), clipped)).toBeLessThan(1e-6);
    }
    // Later frames are the chain's state, not its prediction: x_t still differs from the x0 predicted from it.
    expect(maxAbsDiff(r.trajectory[1]!.xt, r.trajectory[1]!.x0)).toBeGreaterThan(1e-3);
    expect(Math.max(...r.trajectory[1]!.xt.map(Math.abs))).toBeLessThanOrEqual(1);
  });

  it('reports progress across batches', async () => {
    const calls: Array<[number, number]> = [];
    await sample(base({ n: 5, batchSize: 2, steps: 4, onStep: (k, total) => calls.push([k, total]) }));
    expect(calls).toEqual(Array.from({ length: 12 }, (_, i) => [i + 1, 12]));
  });

  it('stops between steps on abort without leaking tensors', async () => {
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    let last = 0;
    await expect(
      sample(
        base({
          n: 4,
          batchSize: 2,
          steps: 10,
          signal: ctl.signal,
          onStep: (k) => {
            last = k;
            if (k === 3) ctl.abort();
          },
        }),
      ),
    ).rejects.toThrow('sampling cancelled');
    expect(last).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    await expect(sample(base({ signal: AbortSignal.abort() }))).rejects.toThrow('sampling cancelled');
  });

  it('an abort from another event lands between steps', async () => {
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 5);
    const slow: EpsModel = (x, j) => {
      const until = Date.now() + 2;
      while (Date.now() < until) {
        /* a slow network */
      }
      return toy(x, j);
    };
    await expect(sample(base({ model: slow, steps: 20, n: 2, signal: ctl.signal }))).rejects.toThrow(
      'sampling cancelled',
    );
  });

  it('validates options and the model output shape', async () => {
    const before = tf.memory().numTensors;
    await expect(sample(base({ steps: 21 }))).rejects.toThrow(/1 <= steps <= T/);
    await expect(sample(base({ n: 0 }))).rejects.toThrow(/n must be a positive integer/);
    await expect(sample(base({ sampler: 'euler' as never }))).rejects.toThrow(/unknown sampler/);
    await expect(sample(base({ keepTrajectory: [5] }))).rejects.toThrow(/keepTrajectory step 5/);
    const bad: EpsModel = (x) => tf.slice(x, [0, 0, 0, 0], [1, 4, 4, 1]);
    await expect(sample(base({ model: bad }))).rejects.toThrow(/model returned shape \[1,4,4,1\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('toUint8', () => {
  it('quantises like (x + 1) / 2 * 255 + 0.5, clamped and truncated', () => {
    const x = Float32Array.from([-1, 1, 0, -2, 2, Number.NaN, -0.99, 0.5, 0.999, -0.9999, Infinity, -Infinity]);
    expect(Array.from(toUint8(x))).toEqual([0, 255, 128, 0, 255, 0, 1, 191, 255, 0, 255, 0]);
  });
  it('round-trips every 8-bit level', () => {
    const levels = Float32Array.from({ length: 256 }, (_, v) => (v / 255) * 2 - 1);
    expect(Array.from(toUint8(levels))).toEqual(Array.from({ length: 256 }, (_, v) => v));
  });
});
