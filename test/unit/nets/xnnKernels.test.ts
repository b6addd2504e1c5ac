/**
 * The tfjs-xnn kernel set on tfjs' WebAssembly backend (issue 17's CPU step): both convolution gradients as
 * forward convolutions, transposes made explicit, the flat weights copied out of the heap. Each piece equals the
 * plain tfjs set, a variable updated by copyFlatInto is what the next convolution uses (XNNPACK caches a packed
 * filter per tensor: an in-place write left it convolving with the old weights, seen as a loss that diverged from
 * step 2), and training on wasm follows the cpu backend step for step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { initBackend } from '../../../src/engine/backend';
import { kernelChoice } from '../../../src/engine/gpu/registry';
import { tfjsKernels } from '../../../src/engine/nets/tfjsKernels';
import { xnnKernels } from '../../../src/engine/nets/xnnKernels';
import { resolveRunConfig } from '../../../src/shared/config';
import { TrainState, trainStep } from '../../../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../../../src/engine/data/loader';

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-6, tf.max(tf.abs(b)).dataSync()[0]!));
}

async function losses(backend: 'wasm' | 'cpu', steps: number): Promise<number[]> {
  await initBackend(backend);
  const cfg = resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    k: 2,
    lambda: 1,
    batch: 2,
    T: 100,
    gapT0: 10,
  });
  const ds = loadDataset(cfg.dataset);
  const sampler = new BatchSampler(ds, cfg.seed);
  const state = new TrainState(cfg);
  const out: number[] = [];
  for (let s = 1; s <= steps; s++) {
    const r = trainStep(state, ds, sampler, s, true);
    out.push(...(await tf.stack([r.loss, r.gradNorm]).data()));
    for (const t of Object.values(r)) t.dispose();
  }
  state.dispose();
  return out;
}

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(async () => {
  await initBackend('cpu');
});

describe('the tfjs-xnn kernel set on the wasm backend', () => {
  it('is the wasm backend’s choice', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(kernelChoice().set.name).toBe('tfjs-xnn');
  });

  it.each([
    [3, 1, 8, 4, 6],
    [3, 2, 8, 4, 6],
    [1, 1, 8, 5, 3],
    [3, 1, 7, 3, 2],
    [3, 2, 7, 3, 2],
  ] as const)('k %i stride %i, %ipx %i→%i channels: dx and dW equal the tfjs set', (k, s, h, cin, cout) => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, h, h, cin], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([k, k, cin, cout], 0, 1, 'float32', 2) as tf.Tensor4D;
      const oh = Math.ceil(h / s);
      const dy = tf.randomNormal([2, oh, oh, cout], 0, 1, 'float32', 3) as tf.Tensor4D;
      const shape: [number, number, number, number] = [2, h, h, cin];
      expect(
        maxRelDiff(xnnKernels.conv2dSameInputGrad(dy, w, shape, s), tfjsKernels.conv2dSameInputGrad(dy, w, shape, s)),
      ).toBeLessThan(1e-5);
      const [fa, ba] = xnnKernels.conv2dSameFilterBiasGrad(x, dy, k, s);
      const [fb, bb] = tfjsKernels.conv2dSameFilterBiasGrad(x, dy, k, s);
      expect(fa.shape).toEqual(fb.shape);
      expect(maxRelDiff(fa, fb)).toBeLessThan(1e-5);
      expect(maxRelDiff(ba, bb)).toBe(0);
    });
  });

  it('dense gradients (transposed products, run by wasmKernels.ts BatchMatMul) equal the cpu backend', () => {
    const grads = () =>
      tf.tidy(() => {
        const x = tf.randomNormal([6, 5], 0, 1, 'float32', 4) as tf.Tensor2D;
        const w = tf.randomNormal([5, 7], 0, 1, 'float32', 5) as tf.Tensor2D;
        const dy = tf.randomNormal([6, 7], 0, 1, 'float32', 6) as tf.Tensor2D;
        return [xnnKernels.denseInputGrad(dy, w), xnnKernels.denseWeightBiasGrad(x, dy)[0]].map((t) => t.dataSync());
      });
    const onWasm = grads();
    tf.setBackend('cpu');
    const onCpu = grads();
    tf.setBackend('wasm');
    onWasm.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - onCpu[i]![j]!)).toBeLessThan(1e-5)));
  });

  it('copyFlatInto gives each variable its part, and the next convolution uses the new filter', () => {
    const filter = tf.variable(tf.randomNormal([3, 3, 2, 2], 0, 1, 'float32', 7));
    const bias = tf.variable(tf.zeros([2]));
    const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 8) as tf.Tensor4D;
    const conv = () => tf.fused.conv2d({ x, filter: filter as tf.Tensor4D, strides: 1, pad: 'same', bias });
    conv().dispose(); // XNNPACK packs and caches the first filter here
    const flat = tf.range(0, filter.size + 2).div(100) as tf.Tensor1D;
    expect(xnnKernels.copyFlatInto(flat, [filter, bias], [0, filter.size])).toBe(true);
    expect(Array.from(bias.dataSync())).toEqual(Array.from(flat.slice(filter.size, 2).dataSync()));
    const newFilter = flat.slice(0, filter.size).reshape([3, 3, 2, 2]) as tf.Tensor4D;
    const expected = tf.add(tf.conv2d(x, newFilter, 1, 'same'), flat.slice(filter.size, 2));
    expect(maxRelDiff(conv(), expected)).toBeLessThan(1e-6);
    tf.dispose([filter, bias, x, flat, newFilter, expected]);
  });

  it('training steps on wasm follow the cpu backend (loss and gradient norm)', async () => {
    const onWasm = await losses('wasm', 3);
    const onCpu = await losses('cpu', 3);
    onWasm.forEach((v, i) => expect(Math.abs(v - onCpu[i]!) / Math.abs(onCpu[i]!)).toBeLessThan(1e-4));
  }, 60_000);
});
