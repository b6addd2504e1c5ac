import { describe, expect, it } from 'vitest';
import { lttb, lttbIndices } from '../../../src/shared/lttb';

describe('LTTB downsampling', () => {
  it('returns every index when the threshold is not below the length (or too small to mean anything)', () => {
    expect(lttbIndices([1, 2, 3], [1, 2, 3], 3)).toEqual([0, 1, 2]);
    expect(lttbIndices([1, 2, 3], [1, 2, 3], 10)).toEqual([0, 1, 2]);
    expect(lttbIndices([1, 2, 3, 4], [1, 2, 3, 4], 2)).toEqual([0, 1, 2, 3]);
    expect(lttbIndices([], [], 5)).toEqual([]);
  });

  it('keeps exactly `threshold` strictly increasing indices, first and last included', () => {
    const n = 10_001;
    const xs = Float64Array.from({ length: n }, (_, i) => i);
    const ys = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 50) + 0.01 * Math.cos(i * 7));
    for (const th of [3, 4, 100, 777, 5000]) {
      const idx = lttbIndices(xs, ys, th);
      expect(idx).toHaveLength(th);
      expect(idx[0]).toBe(0);
      expect(idx.at(-1)).toBe(n - 1);
      for (let i = 1; i < idx.length; i++) expect(idx[i]!).toBeGreaterThan(idx[i - 1]!);
    }
  });

  it('picks the point that makes the largest triangle in each bucket (spikes up and down survive)', () => {
    const n = 1000;
    const xs = Array.from({ length: n }, (_, i) => i);
    const ys = xs.map(() => 1);
    ys[123] = 50;
    ys[700] = -40;
    const { xs: ox, ys: oy } = lttb(xs, ys, 20);
    expect(ox).toContain(123);
    expect(ox).toContain(700);
    expect(Math.max(...oy)).toBe(50);
    expect(Math.min(...oy)).toBe(-40);
  });

  it('on a straight line any choice is exact; on a V it keeps the vertex', () => {
    const xs = Array.from({ length: 101 }, (_, i) => i);
    const v = xs.map((x) => Math.abs(x - 37));
    expect(lttb(xs, v, 3).xs).toEqual([0, 37, 100]);
  });
});
