import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CIFAR10_CLASS_NAMES, readCifar10 } from '../../../src/engine/data/cifar';
import { tempDir, write } from './helpers';

const REC = 3073;

/** n records; record r has label labels[r] and R/G/B planes filled with r*3, r*3+1, r*3+2 plus pixel index. */
function batch(labels: number[]): Buffer {
  const buf = Buffer.alloc(labels.length * REC);
  labels.forEach((l, r) => {
    buf[r * REC] = l;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) buf[r * REC + 1 + c * 1024 + p] = (r * 3 + c + p) & 0xff;
  });
  return buf;
}

describe('CIFAR-10 reader', () => {
  it('converts planar records to NHWC', () => {
    const p = write(join(tempDir(), 'data_batch_1.bin'), batch([3, 9]));
    const raw = readCifar10(p);
    expect(raw).toMatchObject({ count: 2, height: 32, width: 32, channels: 3 });
    expect(Array.from(raw.labels!)).toEqual([3, 9]);
    expect(raw.classNames).toEqual(CIFAR10_CLASS_NAMES);
    // Image 1, pixel 5: R = 1*3+0+5, G = 1*3+1+5, B = 1*3+2+5.
    const o = (1 * 1024 + 5) * 3;
    expect(Array.from(raw.pixels.subarray(o, o + 3))).toEqual([8, 9, 10]);
  });

  it('reads a folder of batches in numeric order, test batch only on request, names from batches.meta.txt', () => {
    const dir = tempDir();
    write(join(dir, 'data_batch_2.bin'), batch([2]));
    write(join(dir, 'data_batch_10.bin'), batch([9]));
    write(join(dir, 'data_batch_1.bin'), batch([1, 1]));
    write(join(dir, 'test_batch.bin'), batch([0]));
    write(join(dir, 'batches.meta.txt'), 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n');
    const train = readCifar10(dir);
    expect(Array.from(train.labels!)).toEqual([1, 1, 2, 9]);
    expect(train.classNames?.[0]).toBe('a');
    const all = readCifar10(dir, { includeTest: true });
    expect(Array.from(all.labels!)).toEqual([1, 1, 2, 9, 0]);
  });

  it('finds the batches inside the official archive folder', () => {
    const dir = tempDir();
    write(join(dir, 'cifar-10-batches-bin', 'data_batch_1.bin'), batch([4]));
    expect(readCifar10(dir).count).toBe(1);
  });

  describe('malformed input', () => {
    it('length not a multiple of 3073', () => {
      const p = write(join(tempDir(), 'data_batch_1.bin'), batch([1, 2]).subarray(0, REC + 100));
      expect(() => readCifar10(p)).toThrow(
        `${p}: not a CIFAR-10 binary batch: length ${REC + 100} is not a multiple of 3073`,
      );
    });

    it('empty file', () => {
      const p = write(join(tempDir(), 'data_batch_1.bin'), Buffer.alloc(0));
      expect(() => readCifar10(p)).toThrow(/not a CIFAR-10 binary batch: length 0/);
    });

    it('label out of range (probably another format)', () => {
      const p = write(join(tempDir(), 'x.bin'), batch([1, 77]));
      expect(() => readCifar10(p)).toThrow(`${p}: record 1 has label 77, expected 0..9`);
    });

    it('folder without batches', () => {
      const dir = tempDir();
      write(join(dir, 'readme.txt'), 'hi');
      expect(() => readCifar10(dir)).toThrow(/no CIFAR-10 batches found/);
    });

    it('test batch requested but missing', () => {
      const dir = tempDir();
      write(join(dir, 'data_batch_1.bin'), batch([1]));
      expect(() => readCifar10(dir, { includeTest: true })).toThrow(/test_batch.bin was requested/);
    });

    it('missing file', () => {
      const p = join(tempDir(), 'data_batch_1.bin');
      expect(() => readCifar10(p)).toThrow(`${p}: CIFAR-10 batch file not found`);
    });
  });
});
