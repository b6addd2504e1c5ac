import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy, readNpyLabels } from '../../../src/engine/data/npy';
import { npyBytes, ramp, tempDir, write } from './helpers';

describe('.npy reader', () => {
  it.each([1, 2, 3] as const)('reads a (N, H, W, C) uint8 array, format v%i', (version) => {
    const px = ramp(2 * 3 * 4 * 3);
    const p = write(join(tempDir(), 'a.npy'), npyBytes('|u1', [2, 3, 4, 3], px, { version }));
    const raw = readNpy(p);
    expect(raw).toMatchObject({ count: 2, height: 3, width: 4, channels: 3 });
    expect(Array.from(raw.pixels)).toEqual(Array.from(px));
  });

  it('reads (N, H, W) as one channel', () => {
    const p = write(join(tempDir(), 'a.npy'), npyBytes('|u1', [5, 2, 2], ramp(20)));
    expect(readNpy(p)).toMatchObject({ count: 5, height: 2, width: 2, channels: 1 });
  });

  it('reads integer label vectors of several dtypes', () => {
    const dir = tempDir();
    const i8 = new BigInt64Array([0n, 4n, 2n]);
    const p = write(join(dir, 'l.npy'), npyBytes('<i8', [3], new Uint8Array(i8.buffer)));
    expect(Array.from(readNpyLabels(p, 3))).toEqual([0, 4, 2]);
    const q = write(join(dir, 'm.npy'), npyBytes('|u1', [3], Uint8Array.from([1, 2, 3])));
    expect(Array.from(readNpyLabels(q, 3))).toEqual([1, 2, 3]);
    expect(() => readNpyLabels(q, 4)).toThrow(`${q}: label count mismatch: 3 labels for 4 images`);
    const f = write(join(dir, 'f.npy'), npyBytes('<f4', [3], new Uint8Array(12)));
    expect(() => readNpyLabels(f, 3)).toThrow(/labels dtype '<f4' is not supported/);
  });

  describe('malformed input', () => {
    it('wrong magic', () => {
      const p = write(join(tempDir(), 'a.npy'), Buffer.from('PK\x03\x04 this is a zip (npz)'));
      expect(() => readNpy(p)).toThrow(`${p}: not a .npy file`);
    });

    it('wrong dtype', () => {
      const p = write(join(tempDir(), 'a.npy'), npyBytes('<f4', [1, 2, 2], new Uint8Array(16)));
      expect(() => readNpy(p)).toThrow(`${p}: dtype '<f4' is not supported, expected '|u1' (uint8)`);
    });

    it('fortran order', () => {
      const p = write(join(tempDir(), 'a.npy'), npyBytes('|u1', [1, 2, 2], new Uint8Array(4), { fortran: true }));
      expect(() => readNpy(p)).toThrow(/fortran_order True is not supported/);
    });

    it('unsupported shapes', () => {
      const dir = tempDir();
      const a = write(join(dir, 'a.npy'), npyBytes('|u1', [1, 2, 2, 4], new Uint8Array(16)));
      expect(() => readNpy(a)).toThrow(/4 channels in shape \(1, 2, 2, 4\), expected 1 or 3/);
      const b = write(join(dir, 'b.npy'), npyBytes('|u1', [16], new Uint8Array(16)));
      expect(() => readNpy(b)).toThrow(/shape \(16\) is not supported/);
    });

    it('truncated data', () => {
      const full = npyBytes('|u1', [2, 4, 4, 3], ramp(96));
      const p = write(join(tempDir(), 'a.npy'), full.subarray(0, full.length - 10));
      expect(() => readNpy(p)).toThrow(`${p}: truncated: shape (2, 4, 4, 3) needs 96 data bytes, got 86`);
    });

    it('truncated header', () => {
      const full = npyBytes('|u1', [2, 4, 4, 3], ramp(96));
      const p = write(join(tempDir(), 'a.npy'), full.subarray(0, 40));
      expect(() => readNpy(p)).toThrow(/truncated: expected 128 header bytes, got 40/);
    });

    it('images larger than the pixel limit, refused from the header', () => {
      const p = write(join(tempDir(), 'big.npy'), npyBytes('|u1', [1, 16384, 16384, 3], ramp(10)));
      const over = 'each image of 16384x16384 (256 Mpx) is over the limit of 64 Mpx (8192x8192)';
      expect(() => readNpy(p)).toThrow(`${p}: ${over}`);
    });

    it('unknown version and garbled header', () => {
      const dir = tempDir();
      const v9 = npyBytes('|u1', [1, 1, 1], new Uint8Array(1));
      v9[6] = 9;
      const a = write(join(dir, 'a.npy'), v9);
      expect(() => readNpy(a)).toThrow(/format version 9.0 is not supported/);
      const garbled = Buffer.from(
        npyBytes('|u1', [1, 1, 1], new Uint8Array(1)).toString('latin1').replace("'shape'", "'shope'"),
        'latin1',
      );
      const b = write(join(dir, 'b.npy'), garbled);
      expect(() => readNpy(b)).toThrow(/malformed .npy header/);
    });
  });
});
