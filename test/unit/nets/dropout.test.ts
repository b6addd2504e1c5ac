/**
 * Philox-4x32-10 and the dropout built on it, on the tfjs cpu backend (the WebGPU kernel is held to
 * the same masks in test/unit/gpu/dropout.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { dropThreshold, dropScale, dropoutMask, dropoutWords, philox4x32 } from '../../../src/engine/philox';
import { dropout } from '../../../src/engine/nets/ops';
import { resolveRunConfig } from '../../../src/shared/config';
import { TrainState, trainStep } from '../../../src/engine/train/trainer';
import { BatchSampler, loadDataset } from '../../../src/engine/data/loader';
import { Rng } from '../../../src/engine/rng';
import { PHILOX_KAT } from './philoxKat';

const KEY = { seed: 42, step: 7, term: 0 };

function dropped(mask: Float32Array, from = 0, stride = 1): { n: number; drops: number } {
  let n = 0;
  let drops = 0;
  for (let i = from; i < mask.length; i += stride) {
    n++;
    if (mask[i] === 0) drops++;
  }
  return { n, drops };
}

describe('Philox-4x32-10', () => {
  it('gives Random123 known answers (zeros, all ones, digits of pi)', () => {
    for (const [ctr, key, want] of PHILOX_KAT) expect(Array.from(philox4x32(ctr, key))).toEqual(want);
  });

  it('is a different bijection for a one-bit change of counter or key', () => {
    const base = Array.from(philox4x32([5, 6, 7, 8], [9, 10]));
    expect(Array.from(philox4x32([5, 6, 7, 9], [9, 10]))).not.toEqual(base);
    expect(Array.from(philox4x32([5, 6, 7, 8], [9, 11]))).not.toEqual(base);
  });
});

describe('dropout masks', () => {
  it('drop a fraction p within 5 standard deviations, in every word position; kept ones are 1/(1-p)', () => {
    const n = 200_000;
    for (const p of [0.1, 0.5, 0.9]) {
      const mask = dropoutMask(n, p, dropoutWords(KEY, 3));
      const scale = Math.fround(1 / (1 - p));
      expect(mask.every((v) => v === 0 || v === scale)).toBe(true);
      for (const [from, stride] of [
        [0, 1],
        [0, 4],
        [1, 4],
        [2, 4],
        [3, 4],
      ] as const) {
        const { n: m, drops } = dropped(mask, from, stride);
        const sd = Math.sqrt(m * p * (1 - p));
        expect(Math.abs(drops - m * p), `p ${p}, words ${from} mod ${stride}`).toBeLessThan(5 * sd);
      }
    }
  });

  it('are a function of (seed, step, term, layer) alone, and independent across each of them', () => {
    const n = 40_000;
    const p = 0.5;
    const ref = dropoutMask(n, p, dropoutWords(KEY, 2));
    expect(dropoutMask(n, p, dropoutWords({ ...KEY }, 2))).toEqual(ref);
    // Two independent masks agree on a fraction (1-p)² + p² = 1/2 of elements.
    const others = [
      dropoutMask(n, p, dropoutWords({ ...KEY, seed: 43 }, 2)),
      dropoutMask(n, p, dropoutWords({ ...KEY, step: 8 }, 2)),
      dropoutMask(n, p, dropoutWords({ ...KEY, step: 7 + 2 ** 32 }, 2)),
      dropoutMask(n, p, dropoutWords({ ...KEY, term: 1 }, 2)),
      dropoutMask(n, p, dropoutWords(KEY, 3)),
    ];
    for (const [i, o] of others.entries()) {
      let same = 0;
      for (let j = 0; j < n; j++) if (o[j] === ref[j]) same++;
      expect(Math.abs(same - n / 2), `variant ${i}`).toBeLessThan(5 * Math.sqrt(n / 4));
    }
    // A tail shorter than a quad takes the first words of its counter.
    expect(dropoutMask(10, p, dropoutWords(KEY, 2))).toEqual(ref.slice(0, 10));
  });

  it('refuse keys and rates they cannot represent, naming the field', () => {
    expect(() => dropoutWords({ ...KEY, step: -1 }, 0)).toThrow(/step must be a non-negative integer, got -1/);
    expect(() => dropoutWords({ ...KEY, seed: 1.5 }, 0)).toThrow(/seed must be a non-negative integer/);
    expect(() => dropoutWords(KEY, 2 ** 32)).toThrow(/layer must fit in 32 bits/);
    expect(() => dropThreshold(1)).toThrow(/rate must be in \[0, 1\), got 1/);
    expect(dropThreshold(0)).toBe(0);
    expect(dropScale(0.1)).toBe(Math.fround(1 / 0.9));
  });
});

describe('dropout op and training on the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('y = x · mask and dy/dx = mask · dy, mask/(1-p) from Philox', async () => {
    const shape = [2, 3, 5, 6];
    const size = 180;
    const x = tf.tensor(Rng.keyed(1).normal(size), shape);
    const dy = tf.tensor(Rng.keyed(2).normal(size), shape);
    const words = dropoutWords(KEY, 4);
    const mask = dropoutMask(size, 0.3, words);
    const y = dropout(x, 0.3, words);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(dropout(xx, 0.3, words), dy)))(x);
    const [xv, dyv, yv, gv] = await Promise.all([x.data(), dy.data(), y.data(), g.data()]);
    for (let i = 0; i < size; i++) {
      expect(yv[i]).toBe(Math.fround(xv[i]! * mask[i]!));
      expect(gv[i]).toBe(Math.fround(dyv[i]! * mask[i]!));
    }
    expect(dropout(x, 0, words)).toBe(x);
    tf.dispose([x, dy, y, g]);
  });

  it('a run with dropout 0.1 interrupted and resumed equals the uninterrupted run', async () => {
    // A micro UNet: a tfjs-cpu step of the tiny preset takes seconds.
    const micro = { ch: 8, chMult: [1, 2], numResBlocks: 1, attnResolutions: [], normGroups: 4 };
    const run0 = { dataset: 'builtin:shapes', batch: 2, T: 100, k: 2, lambda: 1, dropout: 0.1, steps: 4, gapT0: 10 };
    const cfg = resolveRunConfig({ preset: 'tiny', ...micro, ...run0 });
    const ds = loadDataset(cfg.dataset);
    const run = async (state: TrainState, from: number, to: number) => {
      const sampler = new BatchSampler(ds, cfg.seed);
      const losses: number[] = [];
      for (let s = from; s <= to; s++) {
        const out = trainStep(state, ds, sampler, s);
        losses.push((await out.loss.data())[0]!);
        for (const t of Object.values(out)) t.dispose();
      }
      return losses;
    };
    const full = new TrainState(cfg);
    const ref = await run(full, 1, 4);
    const refWeights = await full.net.readWeights();
    full.dispose();
    const first = new TrainState(cfg);
    const head = await run(first, 1, 2);
    const ck = await first.snapshot('cpu', {});
    first.dispose();
    const second = new TrainState(cfg);
    second.restore(ck);
    const tail = await run(second, 3, 4);
    expect([...head, ...tail]).toEqual(ref);
    expect(await second.net.readWeights()).toEqual(refWeights);
    second.dispose();
  });
});
