/**
 * A full disk names the file that could not be written: Node's own text ("ENOSPC: no space left on
 * device, write") names none. Checkpoints, packed datasets, grids, sidecars and exports all write here.
 */
import { describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const full = { on: false };

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const enospc = () =>
    Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
  const writeSync = (...a: unknown[]) => {
    if (full.on) throw enospc();
    return (fs.writeSync as (...x: unknown[]) => number)(...a);
  };
  // The bundle export writes through a stream; on a full disk its write fails the same way.
  const createWriteStream = (...a: unknown[]) => {
    const s = (fs.createWriteStream as (...x: unknown[]) => import('node:fs').WriteStream)(...a);
    if (full.on) s._write = (_c, _e, cb) => cb(enospc());
    return s;
  };
  return { ...fs, default: { ...fs, writeSync, createWriteStream }, writeSync, createWriteStream };
});

const { writeFileAtomic } = await import('../../../src/io/atomicFile');
const { exportBundle } = await import('../../../src/store/export');
const { freshStore, newRun } = await import('../store/helpers');

describe('write errors name the file', () => {
  it('writeFileAtomic on a full disk: the path and ENOSPC in the message, the code kept, no temp file left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-atomic-'));
    const target = join(dir, 'ckpt-0000010.sadpm-ck');
    full.on = true;
    try {
      let caught: NodeJS.ErrnoException | undefined;
      try {
        writeFileAtomic(target, Buffer.alloc(100));
      } catch (err) {
        caught = err as NodeJS.ErrnoException;
      }
      const disk = 'the disk is full; free some space and try again';
      expect(caught?.message).toBe(`cannot write ${target}: ENOSPC: no space left on device, write: ${disk}`);
      expect(caught?.code).toBe('ENOSPC');
    } finally {
      full.on = false;
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a bundle export on a full disk names the export file', async () => {
    const store = freshStore();
    const dir = mkdtempSync(join(tmpdir(), 'sadpm-export-'));
    const out = join(dir, 'run.tar.gz');
    try {
      const run = store.runs.create(newRun());
      writeFileSync(join(dir, 'unrelated'), 'x');
      full.on = true;
      const named = `cannot write ${out}: ENOSPC: no space left on device`;
      await expect(exportBundle(store, run.id, out)).rejects.toThrow(named);
    } finally {
      full.on = false;
      store.close();
    }
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual(['unrelated']);
  });
});
