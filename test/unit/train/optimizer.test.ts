import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { Adam, Ema, clipByGlobalNorm, learningRateAt } from '../../../src/engine/train/optimizer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Adam (PyTorch semantics)', () => {
  it('matches torch.optim.Adam computed by hand for three steps', async () => {
    const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
    const adam = new Adam([p], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const grads = [[0.5, -1, 2], [0.1, 0.2, -0.3], [-1, 0, 1]];
    const ref = [1, -2, 0.5];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    for (let s = 1; s <= 3; s++) {
      const g = grads[s - 1]!;
      adam.apply([tf.tensor1d(g)], 0.1);
      for (let i = 0; i < 3; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** s) + 1e-8;
        ref[i] = ref[i]! - (0.1 / (1 - 0.9 ** s)) * (m[i]! / denom);
      }
    }
    const got = await p.data();
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(ref[i]!, 5);
    expect(adam.count).toBe(3);
  });

  it('does not leak tensors', () => {
    const p = tf.variable(tf.ones([4, 4]));
    const adam = new Adam([p], { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const g = tf.ones([4, 4]);
    adam.apply([g], 0.01);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) adam.apply([g], 0.01);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to the max norm like torch.nn.utils.clip_grad_norm_', async () => {
    const a = tf.tensor1d([3, 0]);
    const b = tf.tensor1d([0, 4]);
    const { grads, norm } = clipByGlobalNorm([a, b], 1);
    expect((await norm.data())[0]).toBeCloseTo(5, 5);
    const ga = await grads[0]!.data();
    expect(ga[0]).toBeCloseTo(3 / (5 + 1e-6), 5);
    const small = clipByGlobalNorm([tf.tensor1d([0.1])], 1);
    expect((await small.grads[0]!.data())[0]).toBeCloseTo(0.1, 6);
    const off = clipByGlobalNorm([a], 0);
    expect((await off.grads[0]!.data())[0]).toBe(3);
  });
});

describe('EMA and learning rate', () => {
  it('ema = d·ema + (1-d)·p', async () => {
    const p = tf.variable(tf.tensor1d([0]));
    const ema = new Ema([p], 0.9);
    p.assign(tf.tensor1d([1]));
    ema.update([p]);
    ema.update([p]);
    expect((await ema.shadow[0]!.data())[0]).toBeCloseTo(1 - 0.81, 6);
  });
  it('linear warm-up then constant', () => {
    expect(learningRateAt(5, 1e-3, 10)).toBeCloseTo(5e-4);
    expect(learningRateAt(50, 1e-3, 10)).toBe(1e-3);
    expect(learningRateAt(1, 2e-4, 0)).toBe(2e-4);
  });
});
