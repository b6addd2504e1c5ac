import { describe, expect, it } from 'vitest';
import { grayscaleRaw, resizeRaw, resizeSquare, rgbaTo } from '../../../src/engine/data/resize';

describe('resize', () => {
  it('area-averages when downsampling (a checkerboard becomes mid gray)', () => {
    const src = new Uint8Array(16).map((_, k) => (((k >> 2) + (k & 3)) % 2 === 0 ? 0 : 255));
    expect(Array.from(resizeSquare(src, 4, 4, 1, 2))).toEqual([128, 128, 128, 128]);
  });

  it('handles non-integer ratios exactly on constant images and keeps means', () => {
    const src = new Uint8Array(7 * 7 * 3).fill(77);
    expect(Array.from(resizeSquare(src, 7, 7, 3, 3)).every((v) => v === 77)).toBe(true);
    const ramp = new Uint8Array(9).map((_, k) => (k % 3) * 100); // columns 0, 100, 200
    const out = resizeSquare(ramp, 3, 3, 1, 2);
    expect(Array.from(out)).toEqual([33, 167, 33, 167]); // (0 + 0.5*100)/1.5, (0.5*100 + 200)/1.5
  });

  it('interpolates bilinearly when upsampling, staying within the source range', () => {
    const out = resizeSquare(Uint8Array.from([0, 255, 0, 255]), 2, 2, 1, 4);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 64, 191, 255]);
  });

  it('composites RGBA over black and converts to gray', () => {
    expect(Array.from(rgbaTo([200, 100, 50, 255, 10, 20, 30, 0], 2, 3))).toEqual([200, 100, 50, 0, 0, 0]);
    expect(Array.from(rgbaTo([255, 255, 255, 51], 1, 1))).toEqual([51]);
  });

  it('transforms whole datasets', () => {
    const raw = {
      pixels: new Uint8Array(2 * 4 * 6 * 3).fill(9),
      count: 2,
      height: 4,
      width: 6,
      channels: 3 as const,
      skipped: [],
    };
    const r = resizeRaw(raw, 2);
    expect(r).toMatchObject({ height: 2, width: 2, count: 2 });
    expect(r.pixels.length).toBe(2 * 2 * 2 * 3);
    const g = grayscaleRaw(r);
    expect(g.channels).toBe(1);
    expect(Array.from(g.pixels)).toEqual(new Array(8).fill(9));
    expect(resizeRaw(g, 2)).toBe(g);
  });
});
