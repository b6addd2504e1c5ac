import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { Adam, Ema, FlatLayout, clipByGlobalNorm, learningRateAt } from '../../../src/engine/train/optimizer';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Adam (PyTorch semantics) over flat state', () => {
  it('matches torch.optim.Adam computed by hand for three steps, and updates the model variables', async () => {
    const p = tf.variable(tf.tensor1d([1, -2]));
    const q = tf.variable(tf.tensor2d([[0.5]]));
    const adam = new Adam([p, q], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const grads = [
      [0.5, -1, 2],
      [0.1, 0.2, -0.3],
      [-1, 0, 1],
    ];
    const ref = [1, -2, 0.5];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    for (let s = 1; s <= 3; s++) {
      const g = grads[s - 1]!;
      adam.apply(tf.tensor1d(g), 0.1);
      for (let i = 0; i < 3; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** s) + 1e-8;
        ref[i] = ref[i]! - (0.1 / (1 - 0.9 ** s)) * (m[i]! / denom);
      }
    }
    const got = [...(await p.data()), ...(await q.data())];
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(ref[i]!, 5);
    expect(q.shape).toEqual([1, 1]);
    expect(adam.count).toBe(3);
    const st = await adam.readState();
    expect(st.m[1]![0]).toBeCloseTo(m[2]!, 6);
  });

  it('does not leak tensors', () => {
    const p = tf.variable(tf.ones([4, 4]));
    const adam = new Adam([p], { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    const g = tf.ones([16]) as tf.Tensor1D;
    adam.apply(g, 0.01);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) adam.apply(g, 0.01);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('flat layout, clipping, addMany', () => {
  it('splits and joins', async () => {
    const L = new FlatLayout([[2, 2], [3]]);
    expect(L.total).toBe(7);
    const parts = L.split(tf.range(0, 7) as tf.Tensor1D);
    expect(parts[1]!.shape).toEqual([3]);
    expect(Array.from(await parts[1]!.data())).toEqual([4, 5, 6]);
    expect(Array.from(L.joinHost(L.splitHost(Float32Array.from([1, 2, 3, 4, 5, 6, 7]))))).toEqual([
      1, 2, 3, 4, 5, 6, 7,
    ]);
    expect(() => L.joinHost([new Float32Array(3), new Float32Array(3)])).toThrow(/part 0 has 3 values, expected 4/);
  });
  it('clips like torch.nn.utils.clip_grad_norm_', async () => {
    const { grad, norm } = clipByGlobalNorm(tf.tensor1d([3, 4]), 1);
    expect((await norm.data())[0]).toBeCloseTo(5, 5);
    expect((await grad.data())[0]).toBeCloseTo(3 / (5 + 1e-6), 5);
    const small = clipByGlobalNorm(tf.tensor1d([0.1]), 1);
    expect((await small.grad.data())[0]).toBeCloseTo(0.1, 6);
    const off = clipByGlobalNorm(tf.tensor1d([3]), 0);
    expect((await off.grad.data())[0]).toBe(3);
  });
});

describe('EMA and learning rate', () => {
  it('ema = d·ema + (1-d)·p', async () => {
    const L = new FlatLayout([[1]]);
    const ema = new Ema(L, tf.tensor1d([0]), 0.9);
    ema.update(tf.tensor1d([1]));
    ema.update(tf.tensor1d([1]));
    expect((await ema.read())[0]![0]).toBeCloseTo(1 - 0.81, 6);
  });
  it('linear warm-up then constant', () => {
    expect(learningRateAt(5, 1e-3, 10)).toBeCloseTo(5e-4);
    expect(learningRateAt(50, 1e-3, 10)).toBe(1e-3);
    expect(learningRateAt(1, 2e-4, 0)).toBe(2e-4);
  });
});
