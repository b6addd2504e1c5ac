import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectFormat, importDataset } from '../../../src/engine/data/import';
import { readPackedDataset } from '../../../src/engine/data/packed';
import { idxBytes, npyBytes, pngBytes, ramp, solidRgba, tempDir, write } from './helpers';

function mnistLike(dir: string, n: number, gz = true): string {
  const suffix = gz ? '.gz' : '';
  const wrap = (b: Buffer): Buffer => (gz ? gzipSync(b) : b);
  write(
    join(dir, `train-labels-idx1-ubyte${suffix}`),
    wrap(
      idxBytes(
        [n],
        new Uint8Array(n).map((_, i) => i % 10),
      ),
    ),
  );
  return write(join(dir, `train-images-idx3-ubyte${suffix}`), wrap(idxBytes([n, 28, 28], ramp(n * 784))));
}

describe('importDataset', () => {
  it('imports an image folder with class subfolders (auto-detected) into a packed file', async () => {
    const dir = tempDir();
    const src = join(dir, 'pets');
    write(join(src, 'cat', '1.png'), pngBytes(40, 40, solidRgba(40, 40, [10, 20, 30, 255])));
    write(join(src, 'dog', '1.png'), pngBytes(50, 40, solidRgba(50, 40, [40, 50, 60, 255])));
    write(join(src, 'dog', 'bad.png'), 'garbage');
    const out = join(dir, 'out', 'pets.sadpm-ds');
    const progress: number[] = [];
    const res = await importDataset({ input: src, format: 'auto', out, onProgress: (d) => progress.push(d) });
    expect(res.report.good).toBe(2);
    expect(res.report.skipped).toHaveLength(1);
    expect(res.header).toMatchObject({
      name: 'pets',
      format: 'folder',
      count: 2,
      height: 32,
      width: 32,
      channels: 3,
      numClasses: 2,
      classNames: ['cat', 'dog'],
    });
    expect(res.header.skipped[0]!.file).toBe(join(src, 'dog', 'bad.png'));
    expect(progress).toEqual([1, 2, 3]);
    const back = readPackedDataset(out);
    expect(back.info).toEqual(res.header);
    expect(Array.from(back.labels!)).toEqual([0, 1]);
    expect(back.pixels[32 * 32 * 3]).toBe(40);
  });

  it('imports gzipped IDX, pairing the labels file by the standard names, with size and limit', async () => {
    const dir = tempDir();
    const images = mnistLike(dir, 20);
    expect(detectFormat(images)).toEqual({ format: 'idx', path: images });
    expect(detectFormat(dir)).toEqual({ format: 'idx', path: images });
    const out = join(dir, 'm.sadpm-ds');
    const res = await importDataset({ input: images, format: 'auto', out, size: 14, limit: 12 });
    expect(res.header).toMatchObject({
      name: 'train-images-idx3-ubyte',
      format: 'idx',
      count: 12,
      height: 14,
      width: 14,
      channels: 1,
      hasLabels: true,
      numClasses: 10,
    });
    expect(Array.from(readPackedDataset(out).labels!)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  });

  it('imports a CIFAR-10 folder and a .npy with labels', async () => {
    const dir = tempDir();
    const cifar = join(dir, 'cifar');
    const rec = Buffer.alloc(2 * 3073);
    rec[3073] = 4;
    write(join(cifar, 'data_batch_1.bin'), rec);
    expect(detectFormat(cifar).format).toBe('cifar10');
    const c = await importDataset({ input: cifar, format: 'auto', out: join(dir, 'c.sadpm-ds'), grayscale: true });
    expect(c.header).toMatchObject({ format: 'cifar10', count: 2, channels: 1, height: 32, numClasses: 10 });

    const npy = write(join(dir, 'faces.npy'), npyBytes('|u1', [3, 8, 8, 3], ramp(3 * 192)));
    const labels = write(join(dir, 'faces_labels.npy'), npyBytes('|u1', [3], Uint8Array.from([2, 0, 1])));
    const n = await importDataset({ input: npy, format: 'auto', out: join(dir, 'n.sadpm-ds'), labelsPath: labels });
    expect(n.header).toMatchObject({ name: 'faces', format: 'npy', count: 3, height: 8, channels: 3, numClasses: 3 });
  });

  it('imports a builtin dataset (limit = count) and re-packs a packed file', async () => {
    const dir = tempDir();
    const out = join(dir, 'shapes.sadpm-ds');
    const b = await importDataset({ input: 'builtin:shapes', format: 'auto', out, limit: 100 });
    expect(b.header).toMatchObject({
      name: 'shapes',
      source: 'builtin:shapes',
      format: 'builtin',
      count: 100,
      height: 16,
    });
    const again = await importDataset({
      input: out,
      format: 'auto',
      out: join(dir, 'gray.sadpm-ds'),
      grayscale: true,
      size: 8,
    });
    expect(again.header).toMatchObject({
      format: 'packed',
      count: 100,
      height: 8,
      channels: 1,
      classNames: ['circle', 'square', 'triangle'],
    });
  });

  describe('writes nothing when it fails', () => {
    it('zero good images', async () => {
      const dir = tempDir();
      const src = join(dir, 'imgs');
      write(join(src, 'a.png'), 'not a png');
      write(join(src, 'b.jpg'), 'not a jpeg');
      const out = join(dir, 'x.sadpm-ds');
      await expect(importDataset({ input: src, format: 'folder', out })).rejects.toThrow(
        /no usable images \(2 skipped, e\.g\./,
      );
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(dir)).toEqual(['imgs']);
    });

    it('a corrupt image in strict mode, leaving an existing output untouched', async () => {
      const dir = tempDir();
      const src = join(dir, 'imgs');
      write(join(src, 'a.png'), pngBytes(4, 4, solidRgba(4, 4, [1, 2, 3, 255])));
      write(join(src, 'b.png'), 'broken');
      const out = join(dir, 'x.sadpm-ds');
      await importDataset({ input: src, format: 'folder', out, size: 4 });
      const before = readFileSync(out);
      const strict = importDataset({ input: src, format: 'folder', out, size: 4, strict: true });
      await expect(strict).rejects.toThrow(`${join(src, 'b.png')}: not a PNG or JPEG`);
      expect(readFileSync(out).equals(before)).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['imgs', 'x.sadpm-ds']);
    });

    it('non-square images (.npy or IDX), unless a size is given', async () => {
      const dir = tempDir();
      const npy = write(join(dir, 'wide.npy'), npyBytes('|u1', [2, 4, 6, 3], ramp(2 * 4 * 6 * 3)));
      const out = join(dir, 'x.sadpm-ds');
      await expect(importDataset({ input: npy, format: 'auto', out })).rejects.toThrow(
        `${npy}: shape (N, H, W, C) = (2, 4, 6, 3) is not square: expected NHWC uint8 with H == W; ` +
          'or give a size (--size S)',
      );
      const idx = write(join(dir, 'wide-images-idx3-ubyte'), idxBytes([2, 4, 6], ramp(48)));
      const square = `${idx}: image size 4x6 is not square: expected square images`;
      await expect(importDataset({ input: idx, format: 'auto', out })).rejects.toThrow(square);
      expect(existsSync(out)).toBe(false);
      const sized = await importDataset({ input: npy, format: 'auto', out, size: 4 });
      expect(sized.header).toMatchObject({ count: 2, height: 4, width: 4 });
    });

    it('a label count mismatch', async () => {
      const dir = tempDir();
      const images = mnistLike(dir, 5, false);
      write(join(dir, 'train-labels-idx1-ubyte'), idxBytes([4], new Uint8Array(4)));
      const out = join(dir, 'x.sadpm-ds');
      await expect(importDataset({ input: images, format: 'auto', out })).rejects.toThrow(
        /label count mismatch: 4 labels for 5 images/,
      );
      expect(existsSync(out)).toBe(false);
    });

    it('a truncated IDX file given with an explicit format', async () => {
      const dir = tempDir();
      const p = write(join(dir, 'digits'), idxBytes([5, 4, 4], ramp(80)).subarray(0, 50));
      const out = join(dir, 'x.sadpm-ds');
      await expect(importDataset({ input: p, format: 'idx', out })).rejects.toThrow(`${p}: truncated`);
      expect(existsSync(out)).toBe(false);
    });
  });

  it('rejects bad arguments with clear messages', async () => {
    const dir = tempDir();
    const img = write(join(dir, 'one.png'), pngBytes(2, 2, solidRgba(2, 2, [0, 0, 0, 255])));
    const out = join(dir, 'x.sadpm-ds');
    await expect(importDataset({ input: 'builtin:shapes', format: 'auto', out: join(dir, 'x.bin') })).rejects.toThrow(
      /must end in .sadpm-ds/,
    );
    await expect(importDataset({ input: img, format: 'auto', out })).rejects.toThrow(/a single image is not a dataset/);
    await expect(importDataset({ input: join(dir, 'missing'), format: 'auto', out })).rejects.toThrow(
      /missing: not found/,
    );
    await expect(importDataset({ input: write(join(dir, 'data.xyz'), 'x'), format: 'auto', out })).rejects.toThrow(
      /cannot tell the dataset format/,
    );
    await expect(importDataset({ input: 'builtin:shapes', format: 'auto', out, size: 0 })).rejects.toThrow(
      /size: expected an integer/,
    );
    await expect(importDataset({ input: 'builtin:nope', format: 'auto', out })).rejects.toThrow(
      /known: builtin:shapes/,
    );
    await expect(importDataset({ input: dir, format: 'npy', out })).rejects.toThrow(
      /is a folder; the npy format expects a file/,
    );
    await expect(
      importDataset({ input: 'builtin:shapes', format: 'builtin', out, labelsPath: 'l.npy' }),
    ).rejects.toThrow(/labelsPath is only used with idx or npy/);
    const classes = importDataset({ input: 'builtin:shapes', format: 'builtin', out, classes: 'none' });
    await expect(classes).rejects.toThrow(/classes \(none\) is only used with image folders/);
    expect(existsSync(out)).toBe(false);
  });
});
