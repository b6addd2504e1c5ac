/**
 * A full disk during a checkpoint write: the previous checkpoint stays intact and loadable, no temp
 * file is left, and the run is marked failed with a reason that names ENOSPC.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temp files of checkpoint writes, in order of opening; the second one fails after a partial write. */
const ckOpens: string[] = [];
const failing = new Map<number, number>();

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const openSync = (path: import('node:fs').PathLike, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
    const p = String(path);
    if (/\/\.ckpt-\d+\.sadpm-ck\.\d+\.\d+\.tmp$/.test(p)) {
      ckOpens.push(p);
      if (ckOpens.length === 2) failing.set(fd, 0);
    }
    return fd;
  };
  const writeSync = (fd: number, ...rest: unknown[]) => {
    const n = failing.get(fd);
    if (n !== undefined) {
      failing.set(fd, n + 1);
      // Some bytes reach the disk, then it is full.
      if (n >= 2) {
        failing.delete(fd);
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
          errno: -28,
          syscall: 'write',
        });
      }
    }
    return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  };
  return { ...fs, default: { ...fs, openSync, writeSync }, openSync, writeSync };
});

const { initBackend } = await import('../../src/engine/backend');
const { resolveRunConfig } = await import('../../src/shared/config');
const { train } = await import('../../src/engine/train/trainer');
const { readCheckpoint } = await import('../../src/engine/train/checkpoint');
const { RunStore } = await import('../../src/store/runStore');
const { RunRecorder } = await import('../../src/store/recorder');

beforeAll(async () => {
  await initBackend('auto');
});

describe('disk full during a checkpoint write', () => {
  it('keeps the previous checkpoint, leaves no temp file, and fails the run naming ENOSPC', async () => {
    const store = RunStore.open(mkdtempSync(join(tmpdir(), 'sadpm-enospc-')));
    const cfg = resolveRunConfig({
      preset: 'tiny',
      dataset: 'builtin:shapes',
      imageSize: 16,
      channels: 3,
      batch: 2,
      T: 100,
      steps: 6,
      logEvery: 1,
      checkpointEvery: 2,
      gapT0: 4,
      gapBatch: 2,
      sampleN: 2,
      sampleSteps: 2,
    });
    const run = store.runs.create({ name: 'enospc', config: cfg, appVersion: 'test' });
    store.runs.markRunning(run.id, { pid: process.pid, start: '' });
    const rec = new RunRecorder(store, run.id, { flushMs: 50 });
    const seen: string[] = [];
    await expect(
      train(cfg, {
        runDir: run.runDir,
        sink: (m) => {
          seen.push(m.type);
          rec.handle(m);
        },
      }),
    ).rejects.toThrow(/ENOSPC/);
    // The failure happened where we meant it: in the second checkpoint's write, after some bytes.
    expect(ckOpens).toHaveLength(2);
    expect(ckOpens[1]).toMatch(/\.ckpt-0000004\.sadpm-ck\./);
    expect(seen.filter((t) => t === 'checkpoint')).toHaveLength(1);
    expect(seen.at(-1)).toBe('failed');

    const got = store.runs.get(run.id)!;
    expect(got.status).toBe('failed');
    expect(got.failureReason).toMatch(/ENOSPC: no space left on device/);
    expect(got.step).toBe(4);
    expect(store.metrics.series(run.id, 'loss').steps).toEqual([1, 2, 3, 4]);
    const cks = store.checkpoints.list(run.id);
    expect(cks.map((c) => c.step)).toEqual([2]);
    expect(readCheckpoint(cks[0]!.path).step).toBe(2);
    const files = readdirSync(join(run.runDir, 'checkpoints'));
    expect(files).toEqual(['ckpt-0000002.sadpm-ck']);
    expect(existsSync(ckOpens[1]!)).toBe(false);
    store.close();
  });
});
