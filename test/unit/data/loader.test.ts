import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateBuiltin } from '../../../src/engine/data/builtin';
import {
  BatchSampler,
  flipDraws,
  gapImages,
  holdOutIndices,
  loadDataset,
  toFloatBatch,
  trainingSampler,
} from '../../../src/engine/data/loader';
import { makeHeader, writePackedDataset, type PackedDataset } from '../../../src/engine/data/packed';
import { tempDir } from './helpers';

function tiny(count: number): PackedDataset {
  const pixels = new Uint8Array(count * 2).map((_, k) => k % 256);
  const info = makeHeader(
    { pixels, count, height: 1, width: 2, channels: 1 },
    { name: 't', source: 's', format: 'npy' },
  );
  return { info, pixels };
}

describe('loadDataset', () => {
  it('generates builtin specs and reads packed files', () => {
    const b = loadDataset('builtin:shapes');
    expect(b.info.count).toBe(4096);
    const path = join(tempDir(), 'x.sadpm-ds');
    writePackedDataset(path, tiny(7));
    expect(loadDataset(path).info.count).toBe(7);
    expect(() => loadDataset('builtin:nope')).toThrow(/known: builtin:shapes/);
    expect(() => loadDataset(join(tempDir(), 'missing.sadpm-ds'))).toThrow(/not found/);
  });
});

describe('BatchSampler', () => {
  it('is a function of (seed, step, batch): fresh samplers agree, other seeds differ', () => {
    const ds = tiny(100);
    const a = new BatchSampler(ds, 3);
    const b = new BatchSampler(ds, 3);
    const c = new BatchSampler(ds, 4);
    for (const step of [0, 1, 7, 12, 1000])
      expect(Array.from(a.batchIndices(step, 16))).toEqual(Array.from(b.batchIndices(step, 16)));
    // Order of queries does not matter (resume from any step).
    const late = new BatchSampler(ds, 3).batchIndices(1000, 16);
    expect(Array.from(late)).toEqual(Array.from(a.batchIndices(1000, 16)));
    expect(Array.from(a.batchIndices(0, 16))).not.toEqual(Array.from(c.batchIndices(0, 16)));
  });

  it('visits every index exactly once per epoch, across batch boundaries', () => {
    const n = 37;
    const batch = 5;
    const s = new BatchSampler(tiny(n), 11);
    const stream: number[] = [];
    for (let step = 0; step < 30; step++) stream.push(...s.batchIndices(step, batch));
    for (let e = 0; e < 4; e++) {
      const epoch = stream.slice(e * n, (e + 1) * n);
      expect(epoch.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    // Epochs are shuffled differently.
    expect(stream.slice(0, n)).not.toEqual(stream.slice(n, 2 * n));
  });

  it('handles a batch larger than the dataset', () => {
    const s = new BatchSampler(tiny(3), 0);
    const idx = Array.from(s.batchIndices(0, 7));
    expect(idx).toHaveLength(7);
    expect(idx.slice(0, 3).sort()).toEqual([0, 1, 2]);
    expect(idx.slice(3, 6).sort()).toEqual([0, 1, 2]);
    expect(() => s.batchIndices(-1, 2)).toThrow(/step/);
    expect(() => s.batchIndices(0, 0)).toThrow(/batch/);
  });
});

describe('toFloatBatch', () => {
  it('scales uint8 to [-1, 1] in NHWC order', () => {
    const ds = generateBuiltin('shapes', { count: 4 });
    const per = 16 * 16 * 3;
    const out = toFloatBatch(ds, Int32Array.from([2, 0]));
    expect(out.length).toBe(2 * per);
    for (let k = 0; k < per; k++) {
      expect(out[k]).toBeCloseTo(ds.pixels[2 * per + k]! / 127.5 - 1, 6);
      expect(out[per + k]).toBeCloseTo(ds.pixels[k]! / 127.5 - 1, 6);
    }
    const ends = toFloatBatch({ ...ds, pixels: new Uint8Array(4 * per).fill(255) }, [0]);
    expect(ends[0]).toBe(1);
    expect(toFloatBatch({ ...ds, pixels: new Uint8Array(4 * per) }, [0])[0]).toBe(-1);
    expect(() => toFloatBatch(ds, [4])).toThrow(/index 4 is outside 0..3/);
  });
});

describe('holdOutIndices', () => {
  it('gives n distinct sorted indices, fixed per seed', () => {
    const ds = tiny(50);
    const a = holdOutIndices(ds, 10, 1);
    expect(new Set(a).size).toBe(10);
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(Array.from(holdOutIndices(ds, 10, 1))).toEqual(Array.from(a));
    expect(Array.from(holdOutIndices(ds, 10, 2))).not.toEqual(Array.from(a));
    expect(Array.from(holdOutIndices(ds, 50, 1))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => holdOutIndices(ds, 51, 1)).toThrow(/n must be an integer in 0..50/);
  });
});

describe('gap monitor held-out images', () => {
  it('holds out gapBatch images, at most a tenth of a small dataset (at least one), none of a 1-image one', () => {
    expect(gapImages(tiny(4096), 16, 0)).toMatchObject({ heldOut: true });
    expect(gapImages(tiny(4096), 16, 0).indices).toHaveLength(16);
    expect(gapImages(tiny(100), 16, 0).indices).toHaveLength(10);
    expect(gapImages(tiny(5), 16, 0).indices).toHaveLength(1);
    expect(gapImages(tiny(1), 16, 0)).toEqual({ indices: Int32Array.from([0]), heldOut: false });
    expect(() => gapImages(tiny(10), 0, 0)).toThrow(/gapBatch must be a positive integer, got 0/);
    // The same images as the gap monitor has always measured on, for runs with the same seed.
    expect(Array.from(gapImages(tiny(4096), 16, 3).indices)).toEqual(Array.from(holdOutIndices(tiny(4096), 16, 3)));
    // A smaller request is a subset of the held-out set.
    const all = new Set(holdOutIndices(tiny(500), 16, 3));
    for (const i of holdOutIndices(tiny(500), 5, 3)) expect(all.has(i)).toBe(true);
  });

  it('training never draws a held-out image over many steps, and draws every other one once per epoch', () => {
    const count = 230;
    const ds = tiny(count);
    const gap = gapImages(ds, 16, 7);
    expect(gap.indices).toHaveLength(16);
    const held = new Set(gap.indices);
    const s = trainingSampler(ds, 7, gap);
    const batch = 12;
    const stream: number[] = [];
    for (let step = 0; step < 2000; step++) {
      const idx = s.batchIndices(step, batch);
      for (const i of idx) expect(held.has(i), `step ${step} drew held-out image ${i}`).toBe(false);
      stream.push(...idx);
    }
    const kept = count - held.size;
    const expected = Array.from({ length: count }, (_, i) => i).filter((i) => !held.has(i));
    for (let e = 0; e < Math.floor(stream.length / kept); e++) {
      expect(stream.slice(e * kept, (e + 1) * kept).sort((x, y) => x - y)).toEqual(expected);
    }
  });

  it('with images held out, batches are still a function of (seed, step, batch): resume is exact', () => {
    const ds = tiny(64);
    const gap = gapImages(ds, 8, 2);
    const a = trainingSampler(ds, 2, gap);
    const seq = Array.from({ length: 40 }, (_, step) => Array.from(a.batchIndices(step, 5)));
    const resumed = trainingSampler(ds, 2, gapImages(ds, 8, 2));
    for (const step of [39, 17, 18, 0]) expect(Array.from(resumed.batchIndices(step, 5))).toEqual(seq[step]);
    // The one-image dataset still trains (on the image the gap is measured on).
    expect(Array.from(trainingSampler(tiny(1), 0, gapImages(tiny(1), 4, 0)).batchIndices(3, 2))).toEqual([0, 0]);
    expect(() => new BatchSampler(tiny(3), 0, [0, 1, 2])).toThrow(/all 3 images are held out/);
    expect(() => new BatchSampler(tiny(3), 0, [3])).toThrow(/excluded index 3 is outside 0..2/);
  });
});

describe('random horizontal flip', () => {
  it('mirrors flagged images left-right and leaves the others alone', () => {
    const ds = generateBuiltin('shapes', { count: 3 });
    const [h, w, c] = [16, 16, 3];
    const plain = toFloatBatch(ds, [2, 1]);
    const flipped = toFloatBatch(ds, [2, 1], Uint8Array.from([1, 0]));
    const per = h * w * c;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          expect(flipped[(y * w + x) * c + ch]).toBe(plain[(y * w + (w - 1 - x)) * c + ch]);
        }
    expect(Array.from(flipped.subarray(per))).toEqual(Array.from(plain.subarray(per)));
    expect(Array.from(flipped.subarray(0, per))).not.toEqual(Array.from(plain.subarray(0, per)));
    expect(() => toFloatBatch(ds, [0, 1], [1])).toThrow(/1 flip flags for 2 images/);
  });

  it('draws flips keyed by (seed, step): the same on resume, about half flipped, different per step and seed', () => {
    expect(Array.from(flipDraws(4, 17, 64))).toEqual(Array.from(flipDraws(4, 17, 64)));
    expect(Array.from(flipDraws(4, 17, 64))).not.toEqual(Array.from(flipDraws(4, 18, 64)));
    expect(Array.from(flipDraws(4, 17, 64))).not.toEqual(Array.from(flipDraws(5, 17, 64)));
    let n = 0;
    for (let step = 0; step < 100; step++) for (const f of flipDraws(1, step, 100)) n += f;
    expect(n / 10000).toBeGreaterThan(0.48);
    expect(n / 10000).toBeLessThan(0.52);
  });
});
