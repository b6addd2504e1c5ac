import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { conv2dSame } from '../../../src/engine/nets/ops';
import { groupNorm, groupNormPlain, setPatchBytesLimit, silu } from '../../../src/engine/nets/tfjsKernels';
import { Rng } from '../../../src/engine/rng';

function randn(shape: number[], seed: number, scale = 1, shift = 0): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Rng.keyed(seed, 77)
      .normal(size)
      .map((v) => v * scale + shift),
    shape,
    'float32',
  );
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('nets/ops', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('groupNorm matches the plain-op GroupNorm in value and in all gradients', () => {
    const x = randn([2, 4, 3, 12], 1, 2, 0.5) as tf.Tensor4D;
    const gamma = randn([12], 2, 0.3, 1);
    const beta = randn([12], 3, 0.3);
    const upstream = randn([2, 4, 3, 12], 4);
    const eps = tf.scalar(1e-6);
    for (const groups of [1, 3, 4, 12]) {
      const f =
        (fn: (xx: tf.Tensor4D, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
        (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(fn(xx as tf.Tensor4D, g, b), upstream));
      const custom = tf.grads(f((xx, g, b) => groupNorm(xx, g, b, groups, eps)));
      const plain = tf.grads(f((xx, g, b) => groupNormPlain(xx, g, b, groups, 1e-6)));
      const gc = custom([x, gamma, beta]);
      const gp = plain([x, gamma, beta]);
      const yc = groupNorm(x, gamma, beta, groups, eps);
      const yp = groupNormPlain(x, gamma, beta, groups, 1e-6);
      expect(maxAbsDiff(yc, yp)).toBeLessThan(1e-5);
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(gc[i]!, gp[i]!)).toBeLessThan(1e-4);
      tf.dispose([...gc, ...gp, yc, yp]);
    }
    tf.dispose([x, gamma, beta, upstream, eps]);
  });

  it('groupNorm normalises each (sample, contiguous channel group)', async () => {
    const x = randn([1, 2, 2, 4], 5, 3, 1) as tf.Tensor4D;
    const eps = tf.scalar(1e-6);
    const y = groupNorm(x, tf.ones([4]), tf.zeros([4]), 2, eps);
    const d = await y.data();
    for (const g of [0, 1]) {
      const vals = [0, 1, 2, 3].flatMap((p) => [d[p * 4 + 2 * g]!, d[p * 4 + 2 * g + 1]!]);
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      const varc = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(varc).toBeCloseTo(1, 4);
    }
    tf.dispose([x, eps, y]);
  });

  it('conv2dSame matches tfjs conv2d in value and in all gradients (3x3 stride 1 and 2, odd sizes)', () => {
    for (const [h, w, stride] of [
      [6, 6, 1],
      [5, 7, 1],
      [8, 8, 2],
      [7, 5, 2],
    ] as const) {
      const x = randn([2, h, w, 3], 5) as tf.Tensor4D;
      const f = randn([3, 3, 3, 4], 6, 0.3) as tf.Tensor4D;
      const b = randn([4], 7) as tf.Tensor1D;
      const up = randn([2, Math.ceil(h / stride), Math.ceil(w / stride), 4], 8);
      const loss = (fn: typeof conv2dSame) => (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(fn(xx as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D, stride), up));
      const plainConv: typeof conv2dSame = (xx, ff, bb, s) => tf.add(tf.conv2d(xx, ff, s, 'same'), bb);
      const gc = tf.grads(loss(conv2dSame))([x, f, b]);
      const gp = tf.grads(loss(plainConv))([x, f, b]);
      expect(maxAbsDiff(conv2dSame(x, f, b, stride), plainConv(x, f, b, stride))).toBeLessThan(1e-5);
      for (let i = 0; i < 3; i++) expect(maxAbsDiff(gc[i]!, gp[i]!)).toBeLessThan(1e-4);
    }
  });

  it('the batch-sliced im2col filter gradient equals the one-shot one', () => {
    const x = randn([5, 6, 6, 3], 9) as tf.Tensor4D;
    const f = randn([3, 3, 3, 4], 10, 0.3) as tf.Tensor4D;
    const b = randn([4], 11) as tf.Tensor1D;
    const up = randn([5, 6, 6, 4], 12);
    const grad = () =>
      tf.grads((xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(conv2dSame(xx as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D, 1), up)),
      )([x, f, b]);
    const whole = grad();
    setPatchBytesLimit(2 * 6 * 6 * 9 * 3 * 4); // two images per slice: 3 slices for 5 images
    const sliced = grad();
    setPatchBytesLimit(512 * 2 ** 20);
    expect(maxAbsDiff(whole[1]!, sliced[1]!)).toBeLessThan(1e-4);
  });

  it('silu matches x*sigmoid(x) in value and gradient', () => {
    const x = randn([3, 5, 7], 6, 3);
    const up = randn([3, 5, 7], 7);
    const gc = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(silu(xx), up)))(x);
    const gp = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.mul(xx, tf.sigmoid(xx)), up)))(x);
    const yc = silu(x);
    const yp = tf.mul(x, tf.sigmoid(x));
    expect(maxAbsDiff(yc, yp)).toBe(0);
    expect(maxAbsDiff(gc, gp)).toBeLessThan(1e-5);
    tf.dispose([x, up, gc, gp, yc, yp]);
  });

  it('does not leak tensors through the custom gradients', () => {
    const x = randn([2, 2, 2, 4], 8) as tf.Tensor4D;
    const gamma = tf.variable(tf.ones([4]));
    const beta = tf.variable(tf.zeros([4]));
    const eps = tf.scalar(1e-6);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(
      () => tf.sum(silu(groupNorm(x, gamma, beta, 2, eps))) as tf.Scalar,
      [gamma, beta],
    );
    tf.dispose([value, ...Object.values(grads)]);
    groupNorm(x, gamma, beta, 2, eps).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, gamma, beta, eps]);
  });
});
