import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UploadSessions } from '../../../src/main/uploads';

const fresh = () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'sadpm-up-')), 'uploads');
  return { dir, up: new UploadSessions(dir) };
};

describe('UploadSessions', () => {
  it('assembles in-order chunks and publishes the file only when complete', () => {
    const { dir, up } = fresh();
    const { uploadId } = up.begin('data.bin', 10);
    up.chunk(uploadId, 0, Buffer.from('01234'));
    expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual([]); // nothing visible yet
    up.chunk(uploadId, 5, Buffer.from('56789'));
    const { path } = up.end(uploadId, (n) => `x-${n}`);
    expect(path).toBe(join(dir, 'x-data.bin'));
    expect(readFileSync(path, 'utf8')).toBe('0123456789');
    expect(readdirSync(dir)).toEqual(['x-data.bin']); // the part file became the final file
  });

  it('refuses out-of-order chunks, excess bytes (discarding the upload) and an early end', () => {
    const { dir, up } = fresh();
    const a = up.begin('a.bin', 4).uploadId;
    expect(() => up.chunk(a, 2, Buffer.from('xx'))).toThrow(/chunk at byte 2, expected byte 0/);
    up.chunk(a, 0, Buffer.from('ab'));
    expect(() => up.end(a, (n) => n)).toThrow(/2 of 4 bytes arrived/);
    expect(() => up.chunk(a, 2, Buffer.from('cde'))).toThrow(/5 bytes sent, more than the 4 announced/);
    expect(() => up.chunk(a, 2, Buffer.from('c'))).toThrow(/no upload .* in progress/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('abort removes the part file; a new begin sweeps part files older than a day', () => {
    const { dir, up } = fresh();
    const a = up.begin('a.bin', 4).uploadId;
    up.abort(a);
    expect(readdirSync(dir)).toEqual([]);
    const stale = join(dir, '.part-old');
    const recent = join(dir, '.part-recent');
    writeFileSync(stale, 'x');
    writeFileSync(recent, 'x');
    const old = (Date.now() - 2 * 24 * 3600 * 1000) / 1000;
    utimesSync(stale, old, old);
    up.begin('b.bin', 1);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    up.close();
  });

  it('an empty file completes with no chunks', () => {
    const { up } = fresh();
    const { uploadId } = up.begin('empty.npy', 0);
    const { path } = up.end(uploadId, (n) => n);
    expect(readFileSync(path).length).toBe(0);
  });
});
