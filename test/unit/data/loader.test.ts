import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateBuiltin } from '../../../src/engine/data/builtin';
import { BatchSampler, holdOutIndices, loadDataset, toFloatBatch } from '../../../src/engine/data/loader';
import { makeHeader, writePackedDataset, type PackedDataset } from '../../../src/engine/data/packed';
import { tempDir } from './helpers';

function tiny(count: number): PackedDataset {
  const pixels = new Uint8Array(count * 2).map((_, k) => k % 256);
  const info = makeHeader({ pixels, count, height: 1, width: 2, channels: 1 }, { name: 't', source: 's', format: 'npy' });
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
    for (const step of [0, 1, 7, 12, 1000]) expect(Array.from(a.batchIndices(step, 16))).toEqual(Array.from(b.batchIndices(step, 16)));
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
