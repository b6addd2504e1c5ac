/**
 * Dropout on the WebGPU backend (llvmpipe on a machine without a GPU): the WGSL Philox equals the
 * JS one word for word, its masks equal the host masks bit for bit, its gradient reuses the mask,
 * and a training step with dropout uploads nothing more than one without (issue 10, item 1d: the
 * masks were drawn on the CPU by tf.dropout and uploaded every step).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { useWebGpu } from './gpuTestUtil';
import { dropoutGpu, philox4x32Gpu } from '../../../src/engine/gpu/dropout';
import { uploadedBytes } from '../../../src/engine/gpu/uploads';
import { dropoutMask, dropoutWords, philox4x32 } from '../../../src/engine/philox';
import { dropout } from '../../../src/engine/nets/ops';
import { overrideKernelSet } from '../../../src/engine/gpu/registry';
import { resolveRunConfig } from '../../../src/shared/config';
import { TrainState, trainStep } from '../../../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../../../src/engine/data/loader';
import { Rng } from '../../../src/engine/rng';
import { PHILOX_KAT } from '../nets/philoxKat';

describe('dropout on WebGPU', () => {
  const webgpu = useWebGpu();
  afterAll(() => overrideKernelSet(null));

  it('the WGSL Philox gives Random123 known answers and the JS words for 2000 random inputs', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const rng = Rng.keyed(2024);
    const rows: number[][] = PHILOX_KAT.map(([c, k]) => [...c, ...k]);
    for (let i = 0; i < 2000; i++) rows.push(Array.from({ length: 6 }, () => rng.nextU32()));
    const got = await philox4x32Gpu(Uint32Array.from(rows.flat()));
    PHILOX_KAT.forEach(([, , want], i) => expect(Array.from(got.subarray(4 * i, 4 * i + 4))).toEqual(want));
    const want = rows.flatMap((r) => Array.from(philox4x32(r.slice(0, 4), r.slice(4))));
    expect(Array.from(got)).toEqual(want);
  });

  it('WGSL masks equal the JS masks bit for bit (sizes, rates, keys); y = x · mask exactly', async (ctx) => {
    if (!webgpu()) ctx.skip();
    for (const size of [4, 1024, 4 * 256 * 70 + 12]) {
      for (const [rate, key, layer] of [
        [0.1, { seed: 1, step: 1, term: 0 }, 0],
        [0.5, { seed: 77, step: 2 ** 33 + 5, term: 1 }, 9],
        [0.9, { seed: 2 ** 31 + 3, step: 123456, term: 2 }, 21],
      ] as const) {
        const words = dropoutWords(key, layer);
        const want = dropoutMask(size, rate, words);
        const ones = tf.ones([size]);
        const mask = dropoutGpu(ones, rate, words);
        expect(
          (await mask.data()).every((v, i) => Object.is(v, want[i])),
          `size ${size} rate ${rate}`,
        ).toBe(true);
        const xv = Rng.keyed(size, layer).normal(size);
        const x = tf.tensor(xv, [size / 4, 2, 2]);
        const y = dropoutGpu(x, rate, words);
        expect(y.shape).toEqual(x.shape);
        const yv = await y.data();
        expect(
          yv.every((v, i) => v === Math.fround(xv[i]! * want[i]!)),
          `size ${size} rate ${rate}: y`,
        ).toBe(true);
        tf.dispose([ones, mask, x, y]);
      }
    }
  });

  it('the dropout op and its gradient (mask · dy) are the same with the WGSL kernel and on the host', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const shape = [2, 4, 4, 8];
    const size = 256;
    const x = tf.tensor(Rng.keyed(5).normal(size), shape);
    const dy = tf.tensor(Rng.keyed(6).normal(size), shape);
    const words = dropoutWords({ seed: 3, step: 4, term: 0 }, 2);
    const mask = dropoutMask(size, 0.2, words);
    const run = async (fast: boolean) => {
      overrideKernelSet(fast ? 'wgsl' : 'tfjs');
      const y = dropout(x, 0.2, words);
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(dropout(xx, 0.2, words), dy)))(x);
      const out = [Array.from(await y.data()), Array.from(await g.data())];
      tf.dispose([y, g]);
      return out;
    };
    const fast = await run(true);
    const plain = await run(false);
    overrideKernelSet(null);
    const dyv = await dy.data();
    expect(fast[1]).toEqual(Array.from(dyv, (v, i) => Math.fround(v * mask[i]!)));
    expect(fast).toEqual(plain);
    tf.dispose([x, dy]);
  });

  it('a training step with dropout 0.1 uploads no more host data than one with dropout 0', async (ctx) => {
    if (!webgpu()) ctx.skip();
    const perStep = async (dropoutRate: number) => {
      const cfg = resolveRunConfig({
        ...{ preset: 'tiny', dataset: 'builtin:shapes', batch: 2, T: 100, k: 2, lambda: 1, gapT0: 10 },
        dropout: dropoutRate,
      });
      const ds = loadDataset(cfg.dataset);
      const state = new TrainState(cfg);
      const sampler = new BatchSampler(ds, cfg.seed);
      const bytes: number[] = [];
      for (let s = 1; s <= 3; s++) {
        const before = uploadedBytes();
        const out = trainStep(state, ds, sampler, s);
        await out.loss.data();
        bytes.push(uploadedBytes() - before);
        for (const t of Object.values(out)) t.dispose();
      }
      state.dispose();
      return bytes[2]!;
    };
    const without = await perStep(0);
    const withDropout = await perStep(0.1);
    // The step's own inputs (x_t, ε, t, weights) are uploaded either way.
    expect(without).toBeGreaterThan(0);
    // The smallest dropout activation of the tiny preset at batch 2·K: 4 images × 8×8 × 16 channels × 4 bytes.
    expect(withDropout - without).toBeLessThan(4 * 8 * 8 * 16 * 4);
    expect(withDropout).toBe(without);
  });
});
