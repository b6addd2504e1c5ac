import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  makeHeader,
  readPackedDataset,
  readPackedHeader,
  writePackedDataset,
  type PackedDataset,
} from '../../../src/engine/data/packed';
import { ramp, tempDir } from './helpers';

function sample(labels = true): PackedDataset {
  const pixels = ramp(5 * 4 * 3 * 3);
  const lab = labels ? Int32Array.from([0, 2, 1, 2, 0]) : undefined;
  const info = makeHeader(
    {
      pixels,
      labels: lab,
      count: 5,
      height: 4,
      width: 3,
      channels: 3,
      classNames: labels ? ['a', 'b', 'c'] : undefined,
    },
    { name: 'tiny', source: '/somewhere', format: 'npy', skipped: [{ file: 'x.png', reason: 'corrupt' }] },
  );
  return { info, pixels, labels: lab };
}

describe('packed dataset format', () => {
  it('round-trips pixels, labels and header', () => {
    const path = join(tempDir(), 'a.sadpm-ds');
    const ds = sample();
    const written = writePackedDataset(path, ds);
    const back = readPackedDataset(path);
    expect(back.info).toEqual(written);
    expect(back.info).toMatchObject({
      version: 1,
      count: 5,
      height: 4,
      width: 3,
      channels: 3,
      hasLabels: true,
      numClasses: 3,
      classNames: ['a', 'b', 'c'],
    });
    expect(Array.from(back.pixels)).toEqual(Array.from(ds.pixels));
    expect(Array.from(back.labels!)).toEqual([0, 2, 1, 2, 0]);
    expect(readPackedHeader(path)).toEqual(written);
  });

  it('lays the file out as magic, header length, JSON, NHWC pixels, int32 LE labels', () => {
    const path = join(tempDir(), 'a.sadpm-ds');
    const ds = sample();
    writePackedDataset(path, ds);
    const buf = readFileSync(path);
    expect(buf.subarray(0, 8).toString('ascii')).toBe('SADPMDS1');
    const h = buf.readUInt32LE(8);
    expect(JSON.parse(buf.subarray(12, 12 + h).toString('utf8')).name).toBe('tiny');
    expect(buf.length).toBe(12 + h + ds.pixels.length + 5 * 4);
    expect(buf.readInt32LE(12 + h + ds.pixels.length + 4)).toBe(2);
  });

  it('round-trips an unlabelled dataset and leaves no temp files behind', () => {
    const dir = tempDir();
    const path = join(dir, 'b.sadpm-ds');
    writePackedDataset(path, sample(false));
    const back = readPackedDataset(path);
    expect(back.labels).toBeUndefined();
    expect(back.info.hasLabels).toBe(false);
    expect(readdirSync(dir)).toEqual(['b.sadpm-ds']);
  });

  it('recomputes the checksum on write instead of trusting the caller', () => {
    const path = join(tempDir(), 'c.sadpm-ds');
    const ds = sample();
    const written = writePackedDataset(path, { ...ds, info: { ...ds.info, checksum: '0'.repeat(64) } });
    expect(written.checksum).toBe(ds.info.checksum);
    expect(() => readPackedDataset(path)).not.toThrow();
  });

  it('refuses to write an inconsistent dataset', () => {
    const path = join(tempDir(), 'd.sadpm-ds');
    const ds = sample();
    expect(() => writePackedDataset(path, { ...ds, pixels: ds.pixels.subarray(1) })).toThrow(/pixel bytes/);
    expect(() => writePackedDataset(path, { ...ds, labels: Int32Array.from([0, 1, 5, 0, 0]) })).toThrow(
      /label 5 of image 2/,
    );
    expect(existsSync(path)).toBe(false);
  });

  describe('reading a damaged file fails with a message naming the file and the problem', () => {
    function good(): { path: string; bytes: Buffer } {
      const path = join(tempDir(), 'e.sadpm-ds');
      writePackedDataset(path, sample());
      return { path, bytes: readFileSync(path) };
    }

    it('missing file', () => {
      const path = join(tempDir(), 'nope.sadpm-ds');
      expect(() => readPackedDataset(path)).toThrow(`${path}: packed dataset file not found`);
      expect(() => readPackedHeader(path)).toThrow(/not found/);
    });

    it('wrong magic', () => {
      const { path, bytes } = good();
      bytes.write('PNGPNGPN', 0, 'ascii');
      writeFileSync(path, bytes);
      expect(() => readPackedDataset(path)).toThrow(`${path}: not a SA-DPM packed dataset`);
      expect(() => readPackedHeader(path)).toThrow(/not a SA-DPM packed dataset/);
    });

    it('empty and tiny files', () => {
      const { path } = good();
      writeFileSync(path, Buffer.alloc(0));
      expect(() => readPackedDataset(path)).toThrow(/not a SA-DPM packed dataset/);
      writeFileSync(path, Buffer.from('SADPMD'));
      expect(() => readPackedDataset(path)).toThrow(/truncated: expected at least 12 bytes, got 6/);
    });

    it('truncated payload', () => {
      const { path, bytes } = good();
      writeFileSync(path, bytes.subarray(0, bytes.length - 7));
      expect(() => readPackedDataset(path)).toThrow(
        new RegExp(`truncated: expected ${bytes.length} bytes, got ${bytes.length - 7}`),
      );
      // The header alone is still readable.
      expect(readPackedHeader(path).count).toBe(5);
    });

    it('truncated header', () => {
      const { path, bytes } = good();
      writeFileSync(path, bytes.subarray(0, 30));
      expect(() => readPackedDataset(path)).toThrow(/truncated/);
      expect(() => readPackedHeader(path)).toThrow(/truncated/);
    });

    it('trailing bytes', () => {
      const { path, bytes } = good();
      writeFileSync(path, Buffer.concat([bytes, Buffer.from([1, 2, 3])]));
      expect(() => readPackedDataset(path)).toThrow(/3 unexpected trailing bytes/);
    });

    it('bad header field', () => {
      const { path, bytes } = good();
      const h = bytes.readUInt32LE(8);
      const json = JSON.parse(bytes.subarray(12, 12 + h).toString('utf8'));
      json.channels = 4;
      const header = Buffer.from(JSON.stringify(json));
      const prefix = Buffer.alloc(12);
      prefix.write('SADPMDS1');
      prefix.writeUInt32LE(header.length, 8);
      writeFileSync(path, Buffer.concat([prefix, header, bytes.subarray(12 + h)]));
      expect(() => readPackedDataset(path)).toThrow(new RegExp(`^${path}: bad header field channels`));
    });

    it('header that is not JSON', () => {
      const { path, bytes } = good();
      bytes[12] = 0x21; // '!' where '{' was
      writeFileSync(path, bytes);
      expect(() => readPackedDataset(path)).toThrow(/header is not valid JSON/);
    });

    it('checksum mismatch (a flipped pixel byte)', () => {
      const { path, bytes } = good();
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 25) ^ 0x40, bytes.length - 25);
      writeFileSync(path, bytes);
      expect(() => readPackedDataset(path)).toThrow(new RegExp(`${path}: checksum mismatch`));
    });

    it('checksum mismatch (a changed label)', () => {
      const { path, bytes } = good();
      bytes.writeInt32LE(1, bytes.length - 4);
      writeFileSync(path, bytes);
      expect(() => readPackedDataset(path)).toThrow(/checksum mismatch/);
    });

    it('a folder', () => {
      const dir = tempDir();
      expect(() => readPackedDataset(dir)).toThrow(/is a directory/);
      expect(() => readPackedHeader(dir)).toThrow(/is a directory/);
    });
  });
});
