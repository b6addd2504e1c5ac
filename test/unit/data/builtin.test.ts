import { describe, expect, it } from 'vitest';
import { BUILTIN_DATASETS, generateBuiltin } from '../../../src/engine/data/builtin';
import { datasetChecksum } from '../../../src/engine/data/packed';

describe('built-in datasets', () => {
  it('lists shapes and shapes32 with descriptions', () => {
    expect(BUILTIN_DATASETS.map((d) => d.id)).toEqual(['builtin:shapes', 'builtin:shapes32']);
    for (const d of BUILTIN_DATASETS) expect(d.description.length).toBeGreaterThan(20);
  });

  it('generates the default shapes dataset: 4096 16x16 RGB images with 3 classes', () => {
    const ds = generateBuiltin('builtin:shapes');
    expect(ds.info).toMatchObject({
      count: 4096,
      height: 16,
      width: 16,
      channels: 3,
      hasLabels: true,
      numClasses: 3,
      format: 'builtin',
      source: 'builtin:shapes',
    });
    expect(ds.info.classNames).toEqual(['circle', 'square', 'triangle']);
    expect(ds.pixels.length).toBe(4096 * 16 * 16 * 3);
    expect(ds.info.checksum).toBe(datasetChecksum(ds.pixels, ds.labels));
    const perClass = [0, 0, 0];
    for (const l of ds.labels!) perClass[l]! += 1;
    for (const n of perClass) expect(n).toBeGreaterThan(4096 / 3 - 150);
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = generateBuiltin('shapes', { count: 64, seed: 5 });
    const b = generateBuiltin('shapes', { count: 64, seed: 5 });
    const c = generateBuiltin('shapes', { count: 64, seed: 6 });
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(Array.from(a.labels!)).toEqual(Array.from(b.labels!));
    expect(Buffer.from(a.pixels).equals(Buffer.from(c.pixels))).toBe(false);
  });

  it('draws each image from its own stream, so a larger count only appends', () => {
    const small = generateBuiltin('shapes32', { count: 5, seed: 1 });
    const big = generateBuiltin('shapes32', { count: 9, seed: 1 });
    expect(Buffer.from(big.pixels.subarray(0, small.pixels.length)).equals(Buffer.from(small.pixels))).toBe(true);
  });

  it('draws a bright shape on a dark background with soft (anti-aliased) edges', () => {
    const ds = generateBuiltin('shapes32', { count: 32 });
    const per = 32 * 32 * 3;
    for (let i = 0; i < 32; i++) {
      const img = ds.pixels.subarray(i * per, (i + 1) * per);
      const lum: number[] = [];
      for (let p = 0; p < 32 * 32; p++) lum.push(Math.max(img[p * 3]!, img[p * 3 + 1]!, img[p * 3 + 2]!));
      const corner = lum[0]!;
      const brightest = Math.max(...lum);
      expect(corner).toBeLessThan(70); // dark background (value <= 0.25)
      expect(brightest).toBeGreaterThan(190); // saturated, bright shape
      // Anti-aliasing leaves intermediate values between background and shape.
      expect(lum.some((v) => v > corner + 20 && v < brightest - 20)).toBe(true);
    }
  });

  it('rejects unknown names listing the known ones, and bad options', () => {
    expect(() => generateBuiltin('builtin:mnist')).toThrow(
      "unknown built-in dataset 'builtin:mnist'; known: builtin:shapes, builtin:shapes32",
    );
    expect(() => generateBuiltin('shapes', { count: 0 })).toThrow(/count must be a positive integer/);
    expect(() => generateBuiltin('shapes', { seed: -1 })).toThrow(/seed must be a non-negative integer/);
  });
});
