/**
 * tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad reads dy at the batch stride of the (smaller) input,
 * so every image after the first gets another image's gradient. The engine registers a corrected
 * kernel (src/engine/cpuKernels.ts); these tests pin its result against references that do not use it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { Rng } from '../../../src/engine/rng';

function values(n: number, seed: number): Float32Array {
  return Float32Array.from(Rng.keyed(seed, 31).normal(n));
}

describe('cpu ResizeNearestNeighborGrad', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('nearest x2 upsample at batch 2: the gradient is the 2x2 sum-pool of dy (hand-computed)', () => {
    const [n, h, w, c] = [2, 3, 4, 2];
    const dy = values(n * 2 * h * 2 * w * c, 1);
    const want = new Float64Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < 2 * h; y++)
        for (let x = 0; x < 2 * w; x++)
          for (let ch = 0; ch < c; ch++) {
            const src = ((b * 2 * h + y) * 2 * w + x) * c + ch;
            want[((b * h + (y >> 1)) * w + (x >> 1)) * c + ch]! += dy[src]!;
          }
    const got = tf.tidy(() => {
      const dyT = tf.tensor4d(dy, [n, 2 * h, 2 * w, c]);
      const up = (x: tf.Tensor) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [2 * h, 2 * w]);
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(up(x), dyT)));
      return g(tf.zeros([n, h, w, c]));
    });
    const gv = got.dataSync();
    got.dispose();
    for (let i = 0; i < want.length; i++) expect(gv[i]).toBeCloseTo(want[i]!, 5);
  });

  it('equals the transpose of the forward resize for other sizes and both corner conventions (batch 3)', () => {
    // dx[i] = <dy, resize(onehot_i)>: the Jacobian transpose, from the forward kernel alone.
    type Case = { from: [number, number]; to: [number, number]; alignCorners: boolean; halfPixelCenters: boolean };
    const cases: Case[] = [
      { from: [3, 5], to: [7, 4], alignCorners: false, halfPixelCenters: false },
      { from: [4, 3], to: [5, 9], alignCorners: true, halfPixelCenters: false },
      { from: [5, 4], to: [3, 7], alignCorners: false, halfPixelCenters: true },
    ];
    const [n, c] = [3, 2];
    for (const { from, to, alignCorners, halfPixelCenters } of cases) {
      const [h, w] = from;
      const size = n * h * w * c;
      const dy = values(n * to[0] * to[1] * c, 2);
      const resize = (x: tf.Tensor4D) => tf.image.resizeNearestNeighbor(x, to, alignCorners, halfPixelCenters);
      const got = tf.tidy(() => {
        const dyT = tf.tensor4d(dy, [n, to[0], to[1], c]);
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(resize(x as tf.Tensor4D), dyT)));
        return g(tf.zeros([n, h, w, c])).dataSync();
      });
      const want = new Float64Array(size);
      for (let i = 0; i < size; i++) {
        const onehot = new Float32Array(size);
        onehot[i] = 1;
        const y = tf.tidy(() => resize(tf.tensor4d(onehot, [n, h, w, c])).dataSync());
        for (let j = 0; j < y.length; j++) want[i]! += y[j]! * dy[j]!;
      }
      const label = JSON.stringify({ from, to, alignCorners, halfPixelCenters });
      for (let i = 0; i < size; i++) expect(got[i], `${label} #${i}`).toBeCloseTo(want[i]!, 5);
    }
  });
});
