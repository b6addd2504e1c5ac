import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pairedLabelNames, readIdx } from '../../../src/engine/data/idx';
import { idxBytes, ramp, tempDir, write } from './helpers';

describe('IDX reader', () => {
  it('reads raw images and labels', () => {
    const dir = tempDir();
    const px = ramp(3 * 4 * 5);
    const images = write(join(dir, 'train-images-idx3-ubyte'), idxBytes([3, 4, 5], px));
    const labels = write(join(dir, 'train-labels-idx1-ubyte'), idxBytes([3], Uint8Array.from([7, 0, 9])));
    const raw = readIdx(images, { labelsPath: labels });
    expect(raw).toMatchObject({ count: 3, height: 4, width: 5, channels: 1, skipped: [] });
    expect(Array.from(raw.pixels)).toEqual(Array.from(px));
    expect(Array.from(raw.labels!)).toEqual([7, 0, 9]);
    expect(raw.classNames).toHaveLength(10);
  });

  it('reads gzip-compressed files, detected by magic bytes whatever the name', () => {
    const dir = tempDir();
    const px = ramp(2 * 3 * 3);
    const images = write(join(dir, 'fashion-images.idx'), gzipSync(idxBytes([2, 3, 3], px)));
    const labels = write(join(dir, 'labels.gz'), gzipSync(idxBytes([2], Uint8Array.from([1, 8]))));
    const raw = readIdx(images, { labelsPath: labels });
    expect(Array.from(raw.pixels)).toEqual(Array.from(px));
    expect(raw.classNames?.[8]).toBe('Bag'); // "fashion" in the path picks Fashion-MNIST names
  });

  it('reads images without labels', () => {
    const dir = tempDir();
    const raw = readIdx(write(join(dir, 'x'), idxBytes([1, 2, 2], ramp(4))));
    expect(raw.labels).toBeUndefined();
    expect(raw.count).toBe(1);
  });

  it('pairs the standard MNIST names', () => {
    expect(pairedLabelNames('/d/train-images-idx3-ubyte.gz')).toEqual([
      'train-labels-idx1-ubyte.gz',
      'train-labels-idx1-ubyte',
    ]);
    expect(pairedLabelNames('t10k-images-idx3-ubyte')).toEqual(['t10k-labels-idx1-ubyte', 't10k-labels-idx1-ubyte.gz']);
    expect(pairedLabelNames('t10k-images.idx3-ubyte')).toEqual(['t10k-labels.idx1-ubyte', 't10k-labels.idx1-ubyte.gz']);
    expect(pairedLabelNames('digits.bin')).toBeUndefined();
  });

  describe('malformed input', () => {
    it('missing file', () => {
      const p = join(tempDir(), 'none-ubyte');
      expect(() => readIdx(p)).toThrow(`${p}: IDX images file not found`);
    });

    it('wrong magic', () => {
      const p = write(join(tempDir(), 'a'), Buffer.from('\x89PNG....................', 'latin1'));
      expect(() => readIdx(p)).toThrow(`${p}: not an IDX images file: expected magic 0x00000803, got 0x89504e47`);
    });

    it('a labels file passed as images', () => {
      const p = write(join(tempDir(), 'a'), idxBytes([2], Uint8Array.from([1, 2])));
      expect(() => readIdx(p)).toThrow(/this is an IDX labels file/);
    });

    it('unsupported data type', () => {
      const p = write(join(tempDir(), 'a'), idxBytes([1, 2, 2], new Uint8Array(16), 0x0d));
      expect(() => readIdx(p)).toThrow(/IDX data type 0x0d is not supported, expected unsigned byte/);
    });

    it('truncated data and truncated header', () => {
      const dir = tempDir();
      const full = idxBytes([3, 4, 4], ramp(48));
      const p = write(join(dir, 'a'), full.subarray(0, full.length - 5));
      expect(() => readIdx(p)).toThrow(`${p}: truncated: dimensions 3x4x4 need 64 bytes, got 59`);
      const q = write(join(dir, 'b'), full.subarray(0, 9));
      expect(() => readIdx(q)).toThrow(/truncated: expected 16 header bytes, got 9/);
      const r = write(join(dir, 'c'), Buffer.from([0, 0]));
      expect(() => readIdx(r)).toThrow(/truncated/);
    });

    it('trailing bytes', () => {
      const p = write(join(tempDir(), 'a'), Buffer.concat([idxBytes([1, 2, 2], ramp(4)), Buffer.from([0])]));
      expect(() => readIdx(p)).toThrow(/1 unexpected trailing bytes/);
    });

    it('truncated gzip', () => {
      const gz = gzipSync(idxBytes([10, 8, 8], ramp(640)));
      const p = write(join(tempDir(), 'a.gz'), gz.subarray(0, gz.length - 10));
      expect(() => readIdx(p)).toThrow(new RegExp(`${p}: corrupt or truncated gzip data`));
    });

    it('label count mismatch', () => {
      const dir = tempDir();
      const images = write(join(dir, 'i'), idxBytes([3, 2, 2], ramp(12)));
      const labels = write(join(dir, 'l'), idxBytes([2], Uint8Array.from([1, 2])));
      expect(() => readIdx(images, { labelsPath: labels })).toThrow(
        `${labels}: label count mismatch: 2 labels for 3 images in ${images}`,
      );
    });

    it('images larger than the pixel limit, refused from the header before any data is read or inflated', () => {
      const dir = tempDir();
      const plain = write(join(dir, 'big-images-idx3-ubyte'), idxBytes([1, 16384, 16384], ramp(10)));
      const limit = 'each image of 16384x16384 (256 Mpx) is over the limit of 64 Mpx (8192x8192)';
      expect(() => readIdx(plain)).toThrow(`${plain}: ${limit}`);
      // Gzipped, the header alone is inflated to decide.
      const gz = write(join(dir, 'big.gz'), gzipSync(idxBytes([1, 16384, 16384], new Uint8Array(0))));
      expect(() => readIdx(gz)).toThrow(`${gz}: ${limit}`);
    });

    it('gzip data longer than the header declares is refused without inflating the rest', () => {
      // 2 images of 4x4 declared, then 64 MiB of zeros that gzip to ~64 KB.
      const declared = idxBytes([2, 4, 4], ramp(32));
      const gz = gzipSync(Buffer.concat([declared, Buffer.alloc(64 * 2 ** 20)]));
      const p = write(join(tempDir(), 'a.gz'), gz);
      const longer = `the gzip data holds more than the ${declared.length} bytes its header declares`;
      expect(() => readIdx(p)).toThrow(`${p}: ${longer}`);
    });

    it('zero-sized dimensions', () => {
      const p = write(join(tempDir(), 'a'), idxBytes([0, 28, 28], new Uint8Array(0)));
      expect(() => readIdx(p)).toThrow(/empty dimensions 0x28x28/);
    });
  });

  const FASHION = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(join(FASHION, 't10k-images-idx3-ubyte.gz')))(
    'reads the real Fashion-MNIST test split (skipped: not installed here)',
    () => {
      const raw = readIdx(join(FASHION, 't10k-images-idx3-ubyte.gz'), {
        labelsPath: join(FASHION, 't10k-labels-idx1-ubyte.gz'),
      });
      expect(raw).toMatchObject({ count: 10000, height: 28, width: 28, channels: 1 });
      expect(raw.classNames?.[9]).toBe('Ankle boot');
    },
  );
});
