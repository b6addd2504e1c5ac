import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { makeSchedule, type Schedule } from '../../../src/engine/diffusion/schedule';
import { Rng } from '../../../src/engine/rng';
import {
  lossTensors,
  prepareLossBatch,
  windowWeights,
  type LossSettings,
} from '../../../src/engine/diffusion/losses/sequenceAware';
import { sumOfSquares } from '../../../src/engine/diffusion/losses/simple';
import type { TauVariant } from '../../../src/shared/config';

const T = 50;
const shape: [number, number, number] = [2, 2, 1];
const P = 4;
const B = 4;
const top = Int32Array.from([0, 1, 17, 49]);

// Toy network: f(x, j) = 0.5 x + 0.01 j, elementwise.
const toy = (x: tf.Tensor4D, t: tf.Tensor1D) =>
  tf.add(tf.mul(x, 0.5), tf.reshape(tf.mul(t, 0.01), [-1, 1, 1, 1])) as tf.Tensor4D;

function x0Fixture(): Float32Array {
  return Float32Array.from({ length: B * P }, (_, i) => Math.sin(i * 1.7) * 0.9);
}

/** The SA loss recomputed with plain JS numbers from x0 and the batch's noise. */
function reference(s: Schedule, settings: LossSettings, x0: Float32Array, eps: Float32Array) {
  const K = settings.k >= 2 && settings.lambda > 0 ? settings.k : 1;
  let simple = 0;
  let sa = 0;
  for (let b = 0; b < B; b++) {
    const acc = new Float64Array(P);
    const w = K > 1 ? windowRef(s, settings.tau, top[b]!, K) : [1];
    for (let k = 0; k < K; k++) {
      const j = top[b]! - k;
      const jj = Math.max(0, j);
      for (let p = 0; p < P; p++) {
        const e = eps[(k * B + b) * P + p]!;
        const x = Math.fround(s.sqrtAlphaBar[jj]!) * x0[b * P + p]! + Math.fround(s.sqrtOneMinusAlphaBar[jj]!) * e;
        const r = e - (0.5 * x + 0.01 * jj);
        if (k === 0) simple += r * r;
        acc[p] = acc[p]! + w[k]! * r;
      }
    }
    for (let p = 0; p < P; p++) sa += acc[p]! * acc[p]!;
  }
  simple /= B;
  sa = K > 1 ? sa / (B * K * K) : 0;
  return { simple, sa, loss: simple + settings.lambda * sa };
}

function windowRef(s: Schedule, variant: TauVariant, j: number, K: number): number[] {
  const w: number[] = [];
  for (let k = 0; k < K; k++) w.push(j - k < 0 ? 0 : variant === 'official' ? 1 : s.tau[j - k]!);
  if (variant === 'normalized') {
    const nz = w.filter((v) => v > 0);
    const mean = nz.reduce((a, b) => a + b, 0) / Math.max(1, nz.length);
    return w.map((v) => (mean > 0 ? v / mean : 0));
  }
  return w;
}

async function evalLoss(settings: LossSettings, batched = true, model = toy) {
  const s = makeSchedule({ kind: 'linear', T });
  const x0 = x0Fixture();
  const lb = prepareLossBatch(s, settings, x0, shape, top, Rng.keyed(7, 1));
  let calls = 0;
  let inputs = 0;
  const lt = lossTensors((x, t) => ((calls += 1), (inputs += x.shape[0]), model(x, t)), lb, settings, batched);
  const [loss, simple, sa] = await Promise.all([lt.loss.data(), lt.simple.data(), lt.sa.data()]);
  return { s, x0, lb, loss: loss[0]!, simple: simple[0]!, sa: sa[0]!, calls, inputs };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('SA loss', () => {
  for (const tau of ['official', 'paper', 'normalized'] as const) {
    for (const k of [2, 3]) {
      it(`${tau} variant, K = ${k}, matches a plain-JS reference`, async () => {
        const settings = { k, lambda: 0.7, tau };
        const r = await evalLoss(settings);
        const ref = reference(r.s, settings, r.x0, r.lb.eps);
        expect(r.simple).toBeCloseTo(ref.simple, 4);
        expect(Math.abs(r.sa - ref.sa)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref.sa)));
        expect(Math.abs(r.loss - ref.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref.loss)));
        expect(r.calls).toBe(1);
        expect(r.inputs).toBe(k * B);
      });
    }
  }

  it('official masks indices below 0 but keeps index 0, and normalises by 1/K² regardless', () => {
    const s = makeSchedule({ kind: 'linear', T });
    expect(Array.from(windowWeights(s, 'official', 0, 3))).toEqual([1, 0, 0]);
    expect(Array.from(windowWeights(s, 'official', 1, 3))).toEqual([1, 1, 0]);
    const paper = windowWeights(s, 'paper', 1, 2);
    expect(paper[1]).toBe(0); // tau at paper t = 1 is 0
    expect(paper[0]).toBeCloseTo(s.tau[1]!, 12);
    const norm = windowWeights(s, 'normalized', 10, 2);
    expect((norm[0]! + norm[1]!) / 2).toBeCloseTo(1, 12);
  });

  it('λ = 0 is plain DDPM: one forward pass of batch B and L = L_simple', async () => {
    const r = await evalLoss({ k: 2, lambda: 0, tau: 'official' });
    expect(r.inputs).toBe(B);
    expect(r.sa).toBe(0);
    expect(r.loss).toBe(r.simple);
    const plain = reference(r.s, { k: 1, lambda: 0, tau: 'official' }, r.x0, r.lb.eps);
    expect(r.simple).toBeCloseTo(plain.simple, 4);
  });

  it('K = 1 is plain DDPM whatever λ', async () => {
    const r = await evalLoss({ k: 1, lambda: 5, tau: 'official' });
    expect(r.inputs).toBe(B);
    expect(r.loss).toBe(r.simple);
  });

  it('L_simple does not depend on K or λ for the same noise stream (k = 0 reuses the batch noise)', async () => {
    const a = await evalLoss({ k: 1, lambda: 0, tau: 'official' });
    const b = await evalLoss({ k: 3, lambda: 1, tau: 'official' });
    expect(b.simple).toBeCloseTo(a.simple, 5);
  });

  it('the batched K evaluation equals K separate calls, values and gradients', async () => {
    const settings = { k: 3, lambda: 1, tau: 'official' as const };
    const w = tf.variable(tf.scalar(0.3));
    const model = (x: tf.Tensor4D, t: tf.Tensor1D) =>
      tf.add(tf.mul(x, w), tf.reshape(tf.mul(t, 0.01), [-1, 1, 1, 1])) as tf.Tensor4D;
    const s = makeSchedule({ kind: 'linear', T });
    const lb = prepareLossBatch(s, settings, x0Fixture(), shape, top, Rng.keyed(3));
    const g1 = tf.variableGrads(() => lossTensors(model, lb, settings, true).loss, [w]);
    const g2 = tf.variableGrads(() => lossTensors(model, lb, settings, false).loss, [w]);
    expect((await g1.value.data())[0]).toBeCloseTo((await g2.value.data())[0]!, 5);
    expect((await g1.grads[w.name]!.data())[0]).toBeCloseTo((await g2.grads[w.name]!.data())[0]!, 4);
  });
});

describe('Theorem 2: (T-1)/(T+K) L^τ_simple ≥ L_sa ≥ L_θ/(T+K)² on a toy predictor', () => {
  // Toy predictor with a fixed residual vector per step: f(x_s, s) - ε_s = r_s. Expectations over the
  // window start t ∈ {1-K..T} are computed exactly by enumeration, with the paper's τ (1-indexed).
  for (const [Tt, K] of [
    [20, 2],
    [30, 3],
    [12, 4],
  ] as const) {
    it(`T = ${Tt}, K = ${K}`, () => {
      const s = makeSchedule({ kind: 'linear', T: Tt, betaStart: 1e-3, betaEnd: 0.2 });
      const D = 5;
      const rng = Rng.keyed(11, Tt, K);
      const r: Float32Array[] = [];
      for (let t = 1; t <= Tt; t++) r.push(rng.normal(D));
      const tau = (t: number) => (t >= 2 && t <= Tt ? s.tau[t - 1]! : 0);
      const res = (t: number) => r[t - 1]!;
      let lTauSimple = 0;
      for (let t = 2; t <= Tt; t++) lTauSimple += tau(t) ** 2 * res(t).reduce((a, v) => a + v * v, 0);
      lTauSimple /= Tt - 1;
      let lSa = 0;
      for (let t = 1 - K; t <= Tt; t++) {
        const acc = new Float64Array(D);
        for (let u = t; u < t + K; u++)
          if (u >= 1 && u <= Tt) for (let d = 0; d < D; d++) acc[d] = acc[d]! + (tau(u) * res(u)[d]!) / K;
        lSa += acc.reduce((a, v) => a + v * v, 0);
      }
      lSa /= Tt + K;
      const total = new Float64Array(D);
      for (let t = 2; t <= Tt; t++) for (let d = 0; d < D; d++) total[d] = total[d]! + tau(t) * res(t)[d]!;
      const lTheta = total.reduce((a, v) => a + v * v, 0);
      expect(((Tt - 1) / (Tt + K)) * lTauSimple).toBeGreaterThanOrEqual(lSa);
      expect(lSa).toBeGreaterThanOrEqual(lTheta / (Tt + K) ** 2);
      // The product's window weights are the same τ the bound is about.
      const w = windowWeights(s, 'paper', 5, K);
      for (let k = 0; k < K; k++) expect(w[k]).toBeCloseTo(tau(6 - k), 12);
    });
  }
});

describe('sumOfSquares', () => {
  it('equals tf.sum(tf.square(x)) in value and gradient, bit for bit, under a scaled upstream gradient', async () => {
    await tf.setBackend('cpu');
    const x = tf.tensor2d(Rng.keyed(5, 1).normal(3 * 37), [3, 37]);
    for (const scale of [1, 0.3, -7.25]) {
      const ref = tf.valueAndGrad((v: tf.Tensor) => tf.mul(tf.div(tf.sum(tf.square(v)), 3), scale) as tf.Scalar)(x);
      const ours = tf.valueAndGrad((v: tf.Tensor) => tf.mul(tf.div(sumOfSquares(v), 3), scale) as tf.Scalar)(x);
      expect(await ours.value.data()).toEqual(await ref.value.data());
      expect(Array.from(await ours.grad.data())).toEqual(Array.from(await ref.grad.data()));
      tf.dispose([ref.value, ref.grad, ours.value, ours.grad]);
    }
    x.dispose();
  });

  it('its gradient allocates no ones tensor of the input size (tfjs Sum gradient builds one on the host)', async () => {
    await tf.setBackend('cpu');
    const x = tf.randomNormal([4, 1000]);
    const peakOf = async (f: (v: tf.Tensor) => tf.Scalar) => {
      const info = await tf.profile(() => tf.grad(f)(x));
      (info.result as tf.Tensor).dispose();
      return info.peakBytes;
    };
    const ref = await peakOf((v) => tf.sum(tf.square(v)));
    const ours = await peakOf((v) => sumOfSquares(v));
    // The ones tensor is x's size; ours also keeps no squared copy for the backward pass.
    expect(ref - ours).toBeGreaterThanOrEqual(x.size * 4);
    x.dispose();
  });
});
