import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { makeSchedule } from '../../../src/engine/diffusion/schedule';
import { Rng, Stream } from '../../../src/engine/rng';
import { computeGap, GAP_STEP_NOISE_OFFSET, type GapResult } from '../../../src/engine/diffusion/gap';
import type { EpsModel } from '../../../src/engine/diffusion/samplers';

const T = 50;
const t0 = 20;
const schedule = makeSchedule({ kind: 'linear', T });
const shape: [number, number, number, number] = [2, 4, 4, 1];
const N = 2;
const P = 16;
const x0Host = Float32Array.from({ length: N * P }, (_, i) => Math.sin(i * 0.77) * 0.9);

let x0: tf.Tensor4D;
let sqrtAb: tf.Tensor1D;
let sqrt1mAb: tf.Tensor1D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  x0 = tf.tensor4d(x0Host, shape);
  sqrtAb = tf.tensor1d(Float32Array.from(schedule.sqrtAlphaBar));
  sqrt1mAb = tf.tensor1d(Float32Array.from(schedule.sqrtOneMinusAlphaBar));
});

afterAll(() => {
  tf.dispose([x0, sqrtAb, sqrt1mAb]);
});

/** The oracle: returns exactly the noise that maps the true x0 to x at index j. */
const oracle: EpsModel = (x, j) =>
  tf.tidy(() => {
    const ji = tf.cast(j, 'int32');
    const a = tf.reshape(tf.gather(sqrtAb, ji), [-1, 1, 1, 1]);
    const s = tf.reshape(tf.gather(sqrt1mAb, ji), [-1, 1, 1, 1]);
    return tf.div(tf.sub(x, tf.mul(x0, a)), s) as tf.Tensor4D;
  });

/** Oracle + a per-image constant bias. */
const biased =
  (perImage: number[]): EpsModel =>
  (x, j) =>
    tf.tidy(() => tf.add(oracle(x, j), tf.tensor4d(perImage, [perImage.length, 1, 1, 1])) as tf.Tensor4D);

/** D_t for a unit constant error, by hand: D_t = c_t + gamma2_t D_{t+1} for t < t0, D_{t0} = 0 (spec §5). */
function handRecursion(): number[] {
  const out: number[] = [0];
  let d = 0;
  for (let t = t0 - 1; t >= 1; t--) {
    const j = t - 1;
    d = schedule.c[j]! + schedule.gamma2[j]! * d;
    out.push(d);
  }
  return out;
}

function expectRel(got: number, want: number, tol = 1e-4): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(tol * Math.abs(want) + (want === 0 ? 1e-9 : 0));
}

describe('computeGap', () => {
  it('is zero at every t for the oracle, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const g = await computeGap({ model: oracle, schedule, x0: x0Host, shape, t0, seed: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(g.t0).toBe(t0);
    expect(g.t).toEqual(Array.from({ length: t0 }, (_, i) => t0 - i));
    for (const arr of [g.meanAbs, g.l2, g.signedMean]) {
      expect(arr).toHaveLength(t0);
      for (const v of arr) expect(Math.abs(v)).toBeLessThan(1e-6);
    }
  });

  it('oracle + constant bias b follows the hand recursion D_t = c_t b + gamma2_t D_{t+1}', async () => {
    const b = 0.1;
    const g = await computeGap({ model: biased([b, b]), schedule, x0: x0Host, shape, t0, seed: 5 });
    const unit = handRecursion();
    expect(unit[0]).toBe(0); // the exact starting state carries no gap
    expect(unit[1]).toBeCloseTo(schedule.c[t0 - 2]!, 12); // one step later: D = c e
    unit.forEach((d, k) => {
      expectRel(g.signedMean[k]!, b * d);
      expectRel(g.meanAbs[k]!, b * d);
      expectRel(g.l2[k]!, b * d * Math.sqrt(P));
    });
  });

  it('per-image biases: meanAbs is |D| averaged, l2 is the mean of per-image norms, signedMean keeps signs', async () => {
    const b = 0.05;
    const g = await computeGap({ model: biased([b, -2 * b]), schedule, x0: x0Host, shape, t0, seed: 9 });
    const unit = handRecursion();
    unit.forEach((d, k) => {
      expectRel(g.signedMean[k]!, ((b - 2 * b) / 2) * d);
      expectRel(g.meanAbs[k]!, 1.5 * b * d);
      expectRel(g.l2[k]!, 1.5 * b * d * Math.sqrt(P)); // not sqrt((1 + 4) / 2): per-image norms, then mean
    });
  });

  it('matches a float64 reference of the chain and recursion (D_t0 = 0) for a toy network (fixed noise)', async () => {
    const toy: EpsModel = (x, j) => tf.add(tf.mul(x, 0.5), tf.reshape(tf.mul(j, 0.01), [-1, 1, 1, 1])) as tf.Tensor4D;
    const seed = 4;
    const g = await computeGap({ model: toy, schedule, x0: x0Host, shape, t0, seed });
    const ref: GapResult = { t0, t: [], meanAbs: [], l2: [], signedMean: [] };
    const j0 = t0 - 1;
    const xs: number[][] = [];
    const ds: number[][] = [];
    for (let i = 0; i < N; i++) {
      const eps = Rng.keyed(seed, Stream.gapNoise, i).normal(P);
      xs.push(
        Array.from(
          { length: P },
          (_, p) => schedule.sqrtAlphaBar[j0]! * x0Host[i * P + p]! + schedule.sqrtOneMinusAlphaBar[j0]! * eps[p]!,
        ),
      );
      ds.push(new Array<number>(P).fill(0));
    }
    for (let t = t0; t >= 1; t--) {
      const j = t - 1;
      let sumAbs = 0;
      let sum = 0;
      let sumNorm = 0;
      for (let i = 0; i < N; i++) {
        const x = xs[i]!;
        const d = ds[i]!;
        const z = t > 1 ? Rng.keyed(seed, Stream.gapNoise, GAP_STEP_NOISE_OFFSET + i, t).normal(P) : null;
        let sq = 0;
        for (let p = 0; p < P; p++) {
          const f = 0.5 * x[p]! + 0.01 * j;
          const epsTilde = (x[p]! - schedule.sqrtAlphaBar[j]! * x0Host[i * P + p]!) / schedule.sqrtOneMinusAlphaBar[j]!;
          // D_{t0} = 0: the chain starts on the true noised state.
          d[p] = t === t0 ? 0 : schedule.c[j]! * (f - epsTilde) + schedule.gamma2[j]! * d[p]!;
          sumAbs += Math.abs(d[p]!);
          sum += d[p]!;
          sq += d[p]! ** 2;
          const mean =
            (x[p]! - (schedule.betas[j]! / schedule.sqrtOneMinusAlphaBar[j]!) * f) / Math.sqrt(schedule.alphas[j]!);
          x[p] = mean + (z ? Math.sqrt(schedule.betaTilde[j]!) * z[p]! : 0);
        }
        sumNorm += Math.sqrt(sq);
      }
      ref.t.push(t);
      ref.meanAbs.push(sumAbs / (N * P));
      ref.signedMean.push(sum / (N * P));
      ref.l2.push(sumNorm / N);
    }
    expect(g.t).toEqual(ref.t);
    expect(g.meanAbs[0]).toBe(0);
    expect(ref.meanAbs[1]).toBeGreaterThan(0);
    for (let k = 0; k < t0; k++) {
      expectRel(g.meanAbs[k]!, ref.meanAbs[k]!, 1e-4);
      expectRel(g.l2[k]!, ref.l2[k]!, 1e-4);
      expect(Math.abs(g.signedMean[k]! - ref.signedMean[k]!)).toBeLessThan(1e-4 * ref.meanAbs[k]! + 1e-7);
    }
    // Fixed noise: the same call gives the same curve; another seed another one.
    const again = await computeGap({ model: toy, schedule, x0: x0Host, shape, t0, seed });
    expect(again).toEqual(g);
    const other = await computeGap({ model: toy, schedule, x0: x0Host, shape, t0, seed: seed + 1 });
    expect(other.meanAbs).not.toEqual(g.meanAbs);
  });

  it('defaults t0 to 300 and validates its inputs', async () => {
    const big = makeSchedule({ kind: 'linear', T: 400 });
    const tiny: [number, number, number, number] = [1, 2, 2, 1];
    const g = await computeGap({
      model: (x) => tf.zerosLike(x),
      schedule: big,
      x0: new Float32Array(4),
      shape: tiny,
      seed: 0,
    });
    expect(g.t0).toBe(300);
    expect(g.t).toHaveLength(300);
    expect(g.t[0]).toBe(300);
    expect(g.t.at(-1)).toBe(1);
    const before = tf.memory().numTensors;
    await expect(computeGap({ model: oracle, schedule, x0: x0Host, shape, t0: 51, seed: 0 })).rejects.toThrow(
      /t0 must be an integer in 1..50/,
    );
    await expect(computeGap({ model: oracle, schedule, x0: new Float32Array(3), shape, t0, seed: 0 })).rejects.toThrow(
      /x0 has 3 values/,
    );
    await expect(
      computeGap({ model: (x) => tf.slice(x, [0, 0, 0, 0], [1, 4, 4, 1]), schedule, x0: x0Host, shape, t0, seed: 0 }),
    ).rejects.toThrow(/model returned shape/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
