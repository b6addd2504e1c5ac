import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { UNet } from '../../../src/engine/nets/unet';
import { variableGradsFreeing } from '../../../src/engine/nets/grads';
import type { ModelConfig } from '../../../src/shared/config';
import { Rng } from '../../../src/engine/rng';

const MICRO: ModelConfig = {
  ch: 16,
  chMult: [1, 2],
  numResBlocks: 1,
  attnResolutions: [4],
  dropout: 0,
  imageSize: 8,
  channels: 3,
  normGroups: 4,
};

function randn(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Rng.keyed(seed, 5).normal(size), shape, 'float32');
}

describe('variableGradsFreeing', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('equals tf.variableGrads on a UNet loss and leaves no tensors behind', () => {
    const net = new UNet(MICRO, 3);
    const x = randn([2, 8, 8, 3], 1) as tf.Tensor4D;
    const e = randn([2, 8, 8, 3], 2);
    const t = tf.tensor1d([10, 700]);
    // Two calls sharing weights, as the batched SA-K loss does not but the per-term one does.
    const loss = () =>
      tf.tidy(() => {
        const a = net.apply(x, t, { training: true });
        const b = net.apply(tf.mul(x, 0.5) as tf.Tensor4D, t, { training: true });
        return tf.add(tf.mean(tf.square(tf.sub(a, e))), tf.mean(tf.mul(a, b))) as tf.Scalar;
      });
    const ref = tf.variableGrads(loss, net.variables);
    const before = tf.memory().numTensors;
    const got = variableGradsFreeing(loss, net.variables);
    const created = tf.memory().numTensors - before;
    expect(created).toBe(1 + net.variables.length); // the value and one gradient per variable
    expect(got.value.dataSync()[0]).toBeCloseTo(ref.value.dataSync()[0]!, 6);
    for (const v of net.variables) {
      const a = ref.grads[v.name]!.dataSync();
      const b = got.grads[v.name]!.dataSync();
      let scale = 0;
      for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
      for (let i = 0; i < a.length; i++)
        expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(scale, 1e-3));
    }
    tf.dispose([ref.value, got.value, ...Object.values(ref.grads), ...Object.values(got.grads), x, e, t]);
    net.dispose();
  });
});
