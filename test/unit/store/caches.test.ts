import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../src/io/atomicFile';
import { sweepTempFiles } from '../../../src/store/tempFiles';
import { freshStore, newRun } from './helpers';

describe('reference statistics cache', () => {
  it('records a file under <data>/cache by key, finds it, and deletes row and file together', () => {
    const store = freshStore();
    const key = 'ds:0123abcd|fid-pytorch|w:6726825d|n:50000';
    expect(store.refStats.get(key)).toBeUndefined();
    const path = store.refStats.pathFor(key);
    expect(path.startsWith(store.layout.cache + '/')).toBe(true);
    expect(store.refStats.pathFor(key)).toBe(path);
    expect(store.refStats.pathFor(key + '0')).not.toBe(path);
    writeFileAtomic(path, Buffer.alloc(1000, 7));
    const rec = store.refStats.put({ key, path, count: 50000 });
    expect(rec).toMatchObject({ key, path, bytes: 1000, count: 50000 });
    expect(store.refStats.get(key)).toEqual(rec);
    expect(store.refStats.list()).toEqual([rec]);
    expect(store.refStats.delete(key)).toBe(true);
    expect(existsSync(path)).toBe(false);
    expect(store.refStats.get(key)).toBeUndefined();
    expect(store.refStats.delete(key)).toBe(false);
    store.close();
  });

  it('a file that is gone or changed size is not served; putting a new file for a key removes the old one', () => {
    const store = freshStore();
    const key = 'k1';
    const first = join(store.layout.cache, 'first.bin');
    writeFileSync(first, 'abc');
    store.refStats.put({ key, path: first, count: 3 });
    writeFileSync(first, 'abcd');
    expect(store.refStats.get(key)).toBeUndefined();
    const second = store.refStats.pathFor(key);
    writeFileSync(second, 'xyz');
    expect(store.refStats.put({ key, path: second, count: 3 })).toMatchObject({ path: second, bytes: 3 });
    expect(existsSync(first)).toBe(false);
    expect(store.refStats.get(key)!.path).toBe(second);
    store.close();
  });

  it('refuses a path outside the cache folder, a missing file or a bad count, and records nothing', () => {
    const store = freshStore();
    const outside = join(store.layout.root, 'stats.bin');
    writeFileSync(outside, 'x');
    expect(() => store.refStats.put({ key: 'k', path: outside, count: 1 })).toThrow(
      /reference statistics 'k': .*stats\.bin is not under the cache folder/,
    );
    const sneaky = join(store.layout.cache, '..', 'stats.bin');
    expect(() => store.refStats.put({ key: 'k', path: sneaky, count: 1 })).toThrow(/not under the cache folder/);
    const missing = store.refStats.pathFor('k');
    expect(() => store.refStats.put({ key: 'k', path: missing, count: 1 })).toThrow(/does not exist \(write the file/);
    writeFileSync(missing, 'x');
    expect(() => store.refStats.put({ key: 'k', path: missing, count: 0 })).toThrow(
      /count 0 is not a positive integer/,
    );
    expect(store.refStats.list()).toEqual([]);
    store.close();
  });

  it('a write killed mid-way leaves a temp file that the next start sweeps', () => {
    const store = freshStore();
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout.trim());
    const dead = join(store.layout.cache, `.refstats-00.bin.${deadPid}.1.tmp`);
    const live = join(store.layout.cache, `.refstats-01.bin.${process.pid}.1.tmp`);
    writeFileSync(dead, 'x');
    writeFileSync(live, 'x');
    expect(sweepTempFiles(store.layout)).toEqual([{ path: dead, bytes: 1 }]);
    expect(existsSync(live)).toBe(true);
    store.close();
  });
});

describe('Γ estimates', () => {
  const estimate = (gamma: number[]) => ({ kind: 'sadpm-gamma', version: 1, key: 'k', gamma });

  it('are kept per run and key, replaced when estimated again, and go with the run', () => {
    const store = freshStore();
    const a = store.runs.create(newRun({ name: 'a' }));
    const b = store.runs.create(newRun({ name: 'b' }));
    const key = 'gamma-v1:step100:ema:T100:n200:seed0:traj10x0badf00d';
    expect(store.gammas.get(a.id, key)).toBeUndefined();
    const g = store.gammas.put({ runId: a.id, key, checkpointStep: 100, estimate: estimate([0.5, 0.25]) });
    expect(g).toMatchObject({ runId: a.id, key, checkpointStep: 100, estimate: estimate([0.5, 0.25]) });
    // The same key of another run is another estimate (keys name a checkpoint step, not a run).
    store.gammas.put({ runId: b.id, key, checkpointStep: 100, estimate: estimate([0.9]) });
    expect(store.gammas.get(a.id, key)!.estimate).toEqual(estimate([0.5, 0.25]));
    store.gammas.put({ runId: a.id, key, checkpointStep: 100, estimate: estimate([0.4, 0.2]) });
    store.gammas.put({ runId: a.id, key: 'gamma-v1:step50', checkpointStep: 50, estimate: estimate([1]) });
    expect(store.gammas.list(a.id).map((x) => [x.checkpointStep, (x.estimate as { gamma: number[] }).gamma])).toEqual([
      [50, [1]],
      [100, [0.4, 0.2]],
    ]);
    // A resume from step 50 drops the estimates of later checkpoints (their weights will differ).
    store.runs.rewind(a.id, 50);
    expect(store.gammas.list(a.id).map((x) => x.checkpointStep)).toEqual([50]);
    store.runs.delete(a.id, { deleteFiles: false });
    expect(store.gammas.list(a.id)).toEqual([]);
    expect(store.gammas.list(b.id)).toHaveLength(1);
    store.close();
  });

  it('refuses an empty key or nothing to store', () => {
    const store = freshStore();
    const a = store.runs.create(newRun());
    expect(() => store.gammas.put({ runId: a.id, key: '', checkpointStep: 1, estimate: {} })).toThrow(/key is empty/);
    expect(() => store.gammas.put({ runId: a.id, key: 'k', checkpointStep: 1, estimate: undefined })).toThrow(
      /nothing to store/,
    );
    store.close();
  });
});
