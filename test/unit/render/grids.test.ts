import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { gridLayout, makeGridPng, readGridPixels, writeGridPng } from '../../../src/engine/render/grids';

function rgbAt(png: PNG, x: number, y: number): [number, number, number, number] {
  const o = 4 * (y * png.width + x);
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!, png.data[o + 3]!];
}

/** Image i of size h x w x c with pixel (y, x, ch) = 10 i + 3 y + x + 60 ch (distinct, < 256). */
function fixture(n: number, h: number, w: number, c: number): Uint8Array {
  const a = new Uint8Array(n * h * w * c);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) a[((i * h + y) * w + x) * c + ch] = 10 * i + 3 * y + x + 60 * ch;
  return a;
}

describe('makeGridPng', () => {
  it('grayscale: default cols = ceil(sqrt(n)), padding 2, background 255; decodes to the right pixels', () => {
    const n = 5;
    const h = 3;
    const w = 2;
    const png = PNG.sync.read(makeGridPng(fixture(n, h, w, 1), n, h, w, 1));
    // cols = 3, rows = 2: width 3 * (2 + 2) + 2 = 14, height 2 * (3 + 2) + 2 = 12
    expect([png.width, png.height]).toEqual([14, 12]);
    expect(rgbAt(png, 0, 0)).toEqual([255, 255, 255, 255]);
    // image 0 at (2, 2); image 4 at column 1, row 1 → x = 2 + 4 = 6, y = 2 + 5 = 7
    for (const [i, ox, oy] of [
      [0, 2, 2],
      [1, 6, 2],
      [2, 10, 2],
      [3, 2, 7],
      [4, 6, 7],
    ] as const) {
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const v = 10 * i + 3 * y + x;
          expect(rgbAt(png, ox + x, oy + y)).toEqual([v, v, v, 255]);
        }
    }
    // padding between cells and the empty sixth cell are background
    expect(rgbAt(png, 4, 3)).toEqual([255, 255, 255, 255]);
    expect(rgbAt(png, 10, 7)).toEqual([255, 255, 255, 255]);
    expect(rgbAt(png, 13, 11)).toEqual([255, 255, 255, 255]);
  });

  it('RGB with cols, padding, nearest upscale and a black background', () => {
    const n = 3;
    const h = 2;
    const w = 2;
    const buf = makeGridPng(fixture(n, h, w, 3), n, h, w, 3, { cols: 2, padding: 1, scale: 3, background: 0 });
    const png = PNG.sync.read(buf);
    expect(gridLayout(n, h, w, { cols: 2, padding: 1, scale: 3 })).toEqual({ cols: 2, rows: 2, width: 15, height: 15 });
    expect([png.width, png.height]).toEqual([15, 15]);
    // image 1 (col 1, row 0) starts at x = 1 + 7 = 8, y = 1; its source pixel (y=1, x=0) covers x 8..10, y 4..6
    for (const [x, y] of [
      [8, 4],
      [10, 6],
      [9, 5],
    ] as const)
      expect(rgbAt(png, x, y)).toEqual([13, 73, 133, 255]);
    // image 2 (col 0, row 1): pixel (0, 1) at x = 1 + 3..5, y = 8..10
    expect(rgbAt(png, 4, 9)).toEqual([21, 81, 141, 255]);
    expect(rgbAt(png, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(rgbAt(png, 7, 3)).toEqual([0, 0, 0, 255]); // the gap between columns
    expect(rgbAt(png, 12, 12)).toEqual([0, 0, 0, 255]); // the empty cell
  });

  it('writes RGB (colour type 2) PNGs', () => {
    const buf = makeGridPng(fixture(1, 2, 2, 1), 1, 2, 2, 1, { padding: 0 });
    expect(buf.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(buf[25]).toBe(2); // IHDR colour type
    const png = PNG.sync.read(buf);
    expect([png.width, png.height]).toEqual([2, 2]);
    expect(rgbAt(png, 1, 1)).toEqual([4, 4, 4, 255]);
  });

  it('validates its inputs', () => {
    expect(() => makeGridPng(new Uint8Array(7), 2, 2, 2, 1)).toThrow(/got 7 values, expected 8/);
    expect(() => makeGridPng(new Uint8Array(8), 2, 2, 2, 2)).toThrow(/channels must be 1, 3 or 4/);
    expect(() => makeGridPng(new Uint8Array(0), 0, 2, 2, 1)).toThrow(/n must be a positive integer/);
    expect(() => makeGridPng(new Uint8Array(8), 2, 2, 2, 1, { scale: 0 })).toThrow(/scale/);
  });
});

describe('writeGridPng', () => {
  it('writes atomically (no temp files left) and the file decodes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-grid-'));
    try {
      const path = join(dir, 'samples', 'grid.png');
      writeGridPng(path, fixture(4, 3, 3, 3), 4, 3, 3, 3, { scale: 2 });
      const png = PNG.sync.read(readFileSync(path));
      expect([png.width, png.height]).toEqual([2 * (6 + 2) + 2, 2 * (6 + 2) + 2]);
      expect(rgbAt(png, 2, 2)).toEqual([0, 60, 120, 255]);
      expect(readdirSync(join(dir, 'samples'))).toEqual(['grid.png']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('grid captions', () => {
  it('draws a caption band above the cells and wraps it to the grid width', async () => {
    const { makeGridPng, gridLayout, captionBand } = await import('../../../src/engine/render/grids');
    const { PNG } = await import('pngjs');
    const imgs = new Uint8Array(4 * 8 * 8 * 3).fill(128);
    const plain = gridLayout(4, 8, 8, { cols: 2, padding: 2, scale: 4 });
    const short = captionBand('STEP 12', plain.width, 2);
    expect(short.lines).toEqual(['STEP 12']);
    const long = captionBand('RUN 1 A VERY LONG CAPTION THAT CANNOT FIT ON ONE LINE', plain.width, 2);
    expect(long.lines.length).toBeGreaterThan(1);
    for (const l of long.lines) expect(l.length * 6 - 1).toBeLessThanOrEqual(plain.width - 4);
    const png = PNG.sync.read(makeGridPng(imgs, 4, 8, 8, 3, { cols: 2, padding: 2, scale: 4, caption: 'STEP 12' }));
    expect([png.width, png.height]).toEqual([plain.width, plain.height + short.height]);
    let ink = 0;
    for (let y = 0; y < short.height; y++)
      for (let x = 0; x < png.width; x++) if (png.data[4 * (y * png.width + x)]! < 100) ink++;
    expect(ink).toBeGreaterThan(20);
    // The first row of cells starts below the band.
    expect(png.data[4 * ((short.height + 2) * png.width + 2)]).toBe(128);
  });
});

describe('column labels and reading a grid back (issue 12/15)', () => {
  it('labels each column in a band below the caption, centred, cut to the cell width', async () => {
    const { captionBand, labelBandHeight } = await import('../../../src/engine/render/grids');
    const { textWidth } = await import('../../../src/engine/render/bitmapFont');
    const n = 6;
    const opts = { cols: 3, padding: 2, scale: 4, caption: 'STEP', colLabels: ['20', '4000', '123456789'] };
    const png = PNG.sync.read(makeGridPng(fixture(n, 4, 4, 3), n, 4, 4, 3, opts));
    const plain = gridLayout(n, 4, 4, { cols: 3, padding: 2, scale: 4 });
    const band = captionBand('STEP', plain.width, 2).height;
    expect(labelBandHeight(opts)).toBe(13);
    expect([png.width, png.height]).toEqual([plain.width, plain.height + band + 13]);
    /** Columns with ink in the label band within cell j (x from its left edge). */
    const inkColumns = (j: number): number[] => {
      const xs: number[] = [];
      for (let x = 0; x < 16; x++) {
        const px = 2 + j * 18 + x;
        let ink = false;
        for (let y = band; y < band + 13; y++) ink ||= png.data[4 * (y * png.width + px)]! < 100;
        if (ink) xs.push(x);
      }
      return xs;
    };
    // '20' is 11 px wide, centred in a 16 px cell: ink from x = 2 to 12.
    expect(textWidth('20', 1)).toBe(11);
    expect(Math.min(...inkColumns(0))).toBe(2);
    expect(Math.max(...inkColumns(0))).toBe(12);
    // A label wider than its cell keeps only the characters that fit (16 px: 2 characters), never the neighbour's.
    expect(Math.max(...inkColumns(2))).toBeLessThan(16);
    expect(inkColumns(1).length).toBeGreaterThan(0);
    // The cells start below both bands.
    expect(rgbAt(png, 2, band + 13 + 2)).toEqual([0, 60, 120, 255]);
    expect(rgbAt(png, 2, band + 13 + 1)).toEqual([255, 255, 255, 255]);
  });

  it('readGridPixels inverts makeGridPng for any layout, grayscale and RGB', () => {
    for (const [n, c, opts] of [
      [5, 1, {}],
      [7, 3, { cols: 1, scale: 4, caption: 'A COLUMN', colLabels: ['9'] }],
      [4, 3, { cols: 4, padding: 0, scale: 2, colLabels: ['1', '2', '3', '4'] }],
    ] as const) {
      const imgs = fixture(n, 3, 5, c);
      const back = readGridPixels(makeGridPng(imgs, n, 3, 5, c, opts), n, 3, 5, c, opts);
      expect(Buffer.from(back).equals(Buffer.from(imgs))).toBe(true);
    }
  });

  it('readGridPixels refuses a PNG of another layout, naming both sizes', () => {
    const buf = makeGridPng(fixture(4, 2, 2, 3), 4, 2, 2, 3);
    expect(() => readGridPixels(buf, 4, 2, 2, 3, { cols: 1 })).toThrow(
      'grid: the PNG is 10x10, expected 6x18 for 4 images of 2x2 in 1 columns',
    );
    expect(() => readGridPixels(buf, 4, 2, 2, 4)).toThrow(/only 1 or 3 channels/);
  });
});
