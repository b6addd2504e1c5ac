import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../../src/engine/tf';
import { pixelSpace, samplesToUnit } from '../../../src/engine/metrics/featureSpace';
import {
  compareSummaries,
  decodeSummary,
  encodeSummary,
  FeatureCollector,
} from '../../../src/engine/metrics/collector';
import { GaussianAccumulator } from '../../../src/engine/metrics/stats';
import { maxAbs, randn } from './helpers';

/** torch.nn.functional.adaptive_avg_pool2d(·, 8) of one [h, w] channel, from its definition. */
function adaptivePool(img: (y: number, x: number) => number, h: number, w: number, g = 8): number[][] {
  return Array.from({ length: g }, (_, i) => {
    const [y0, y1] = [Math.floor((i * h) / g), Math.ceil(((i + 1) * h) / g)];
    return Array.from({ length: g }, (_, j) => {
      const [x0, x1] = [Math.floor((j * w) / g), Math.ceil(((j + 1) * w) / g)];
      let s = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += img(y, x);
      return s / ((y1 - y0) * (x1 - x0));
    });
  });
}

function images(n: number, h: number, w: number, c: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(
    Float32Array.from(randn(n * h * w * c, seed), (v) => 1 / (1 + Math.exp(-v))),
    [n, h, w, c],
  );
}

describe('metrics/featureSpace + collector', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('pixel space = adaptive 8×8 average pooling per RGB channel (12×20 and grey 16×16), (row, column, channel) order', async () => {
    const space = pixelSpace();
    for (const [h, w, c] of [
      [12, 20, 3],
      [16, 16, 1],
    ] as const) {
      const x = images(2, h, w, c, h);
      const v = await x.data();
      const { features, logits } = space.embed(x);
      expect(logits).toBeNull();
      expect(features.shape).toEqual([2, 192]);
      const f = await features.data();
      for (let k = 0; k < 2; k++) {
        for (let ch = 0; ch < 3; ch++) {
          const src = c === 1 ? 0 : ch;
          const ref = adaptivePool((y, xx) => v[((k * h + y) * w + xx) * c + src]!, h, w);
          for (let i = 0; i < 8; i++)
            for (let j = 0; j < 8; j++) expect(f[k * 192 + (i * 8 + j) * 3 + ch]).toBeCloseTo(ref[i]![j]!, 5);
        }
      }
      tf.dispose([x, features]);
    }
  });

  it('samplesToUnit maps [−1, 1] to 8-bit levels in [0, 1]', async () => {
    const x = tf.tensor4d([-1.5, -1, 0, 0.999, 1, 2, -0.5, 0.25], [1, 2, 2, 2]);
    expect(Array.from(await samplesToUnit(x).data()).map((v) => Math.round(v * 255))).toEqual([
      0, 0, 128, 255, 255, 255, 64, 159,
    ]);
  });

  it('collector: streamed moments (host or device) and subsample match the features; FID to itself ~0; IS undefined in pixel space', async () => {
    const space = pixelSpace();
    const batches = [images(7, 16, 16, 3, 1), images(5, 16, 16, 3, 2), images(9, 16, 16, 3, 3)];
    const direct = new GaussianAccumulator(192);
    const all: number[] = [];
    for (const b of batches) {
      const { features } = space.embed(b);
      const f = await features.data();
      direct.add(f, b.shape[0]);
      all.push(...f);
      features.dispose();
    }
    const ref = direct.finish();
    const summaries = [];
    for (const deviceMoments of [false, true]) {
      const c = new FeatureCollector(space, { keep: 100, deviceMoments });
      for (const b of batches) await c.add(b);
      const s = await c.finish();
      expect(s.count).toBe(21);
      expect(maxAbs(s.mean, ref.mean)).toBeLessThan(1e-6);
      expect(maxAbs(s.cov, ref.cov)).toBeLessThan(1e-6);
      expect(Array.from(s.sample.data)).toEqual(all);
      summaries.push(s);
    }
    const [a, b] = summaries as [NonNullable<(typeof summaries)[0]>, NonNullable<(typeof summaries)[0]>];
    const r = await compareSummaries(a, b, ['fid', 'pr']);
    expect(Math.abs(r.fid!)).toBeLessThan(1e-6);
    expect(r).toMatchObject({ precision: 1, recall: 1, realCount: 21, fakeCount: 21 });
    expect(r.space.label).toMatch(/pixel space .*not comparable/);
    await expect(compareSummaries(a, b, ['is'])).rejects.toThrow(
      /Inception Score is not defined in the pixel feature space/,
    );
    const back = decodeSummary(encodeSummary(a), 'ref.bin');
    expect(back.space).toEqual(a.space);
    expect(Array.from(back.cov)).toEqual(Array.from(a.cov));
    expect(Array.from(back.sample.data)).toEqual(Array.from(a.sample.data));
    expect(() => decodeSummary(encodeSummary(a).subarray(0, 1000), 'ref.bin')).toThrow(
      /ref\.bin: \d+ bytes, expected \d+ .*truncated/,
    );
    tf.dispose(batches);
  });
});
