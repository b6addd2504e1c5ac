import { RESUMABLE_STATUSES } from '../../../src/shared/records';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '../../../src/store/runStore';
import { currentOwner, processStart } from '../../../src/store/owner';
import { freshStore, newRun, tmpDir } from './helpers';

describe('runs', () => {
  it('creates, reads, finds and deletes runs with tags and notes', () => {
    const store = freshStore();
    const a = store.runs.create(newRun({ name: 'alpha run', tags: ['b', 'a'], notes: 'first' }));
    expect(a).toMatchObject({
      id: 1,
      name: 'alpha run',
      status: 'queued',
      tags: ['a', 'b'],
      notes: 'first',
      k: 2,
      lambda: 1,
      T: 100,
      totalSteps: 10,
      step: 0,
    });
    expect(a.runDir).toBe(join(store.layout.runs, '1-alpha_run'));
    expect(a.config).toMatchObject({ preset: 'tiny', steps: 10 });
    const b = store.runs.create(newRun({ name: 'alpha run', runDir: '/somewhere/else' }));
    expect(b.runDir).toBe('/somewhere/else');
    // By name: the newest of that name; by id with or without '#'.
    expect(store.runs.find('alpha run')!.id).toBe(b.id);
    expect(store.runs.find('#1')!.id).toBe(1);
    expect(store.runs.find('1')!.id).toBe(1);
    expect(store.runs.find('nope')).toBeUndefined();
    expect(() => store.runs.require('nope')).toThrow(/no run 'nope'/);
    expect(store.runs.byDir('/somewhere/else')!.id).toBe(b.id);

    store.runs.setTags(a.id, ['x', 'y']);
    store.runs.setNotes(a.id, 'second');
    store.runs.rename(a.id, 'renamed');
    expect(store.runs.get(a.id)).toMatchObject({ tags: ['x', 'y'], notes: 'second', name: 'renamed' });
    store.runs.setTags(a.id, []);
    expect(store.runs.get(a.id)!.tags).toEqual([]);

    store.runs.updateConfig(a.id, { ...a.config, steps: 50 } as never);
    expect(store.runs.get(a.id)).toMatchObject({ totalSteps: 50, config: expect.objectContaining({ steps: 50 }) });

    // Deleting cascades to tags, metrics and checkpoints, and removes the run's folder under runs/.
    store.runs.setTags(a.id, ['gone']);
    store.metrics.append(a.id, [{ step: 1, name: 'loss', value: 1 }]);
    mkdirSync(a.runDir, { recursive: true });
    writeFileSync(join(a.runDir, 'x.bin'), 'x');
    store.checkpoints.add({ runId: a.id, step: 1, kind: 'full', path: join(a.runDir, 'x.bin'), bytes: 1, metrics: {} });
    store.runs.delete(a.id, { deleteFiles: true });
    expect(store.runs.get(a.id)).toBeUndefined();
    expect(existsSync(a.runDir)).toBe(false);
    for (const t of ['run_tags', 'metrics', 'checkpoints']) {
      expect((store.db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE run_id = ?`).get(a.id) as { n: number }).n).toBe(
        0,
      );
    }
    store.close();
  });

  it('status, progress and owner bookkeeping', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    store.runs.markRunning(r.id, currentOwner());
    let got = store.runs.get(r.id)!;
    expect(got.status).toBe('running');
    expect(got.startedAt).not.toBeNull();
    store.runs.setProgress(r.id, 5, 0.5);
    store.runs.setProgress(r.id, 3, null);
    got = store.runs.get(r.id)!;
    expect(got.step).toBe(5);
    expect(got.lastLoss).toBe(0.5);
    store.runs.setStatus(r.id, 'failed', 'boom');
    got = store.runs.get(r.id)!;
    expect(got).toMatchObject({ status: 'failed', failureReason: 'boom' });
    expect(got.endedAt).not.toBeNull();
    expect(() => store.runs.setStatus(r.id, 'bogus' as never)).toThrow(/CHECK constraint/);
    store.close();
  });
});

describe('listRuns / countRuns filters', () => {
  function seeded(): RunStore {
    const store = freshStore();
    const ds = store.datasets.add({
      name: 'mnist',
      source: '/x',
      format: 'idx',
      count: 10,
      height: 28,
      width: 28,
      channels: 1,
      checksum: 'c1',
      path: '/x.sadpm-ds',
      previewPath: null,
      bytes: 1,
      classCounts: null,
      classNames: null,
      good: 10,
      skipped: [],
    });
    const mk = (
      name: string,
      o: {
        k?: number;
        lambda?: number;
        T?: number;
        tags?: string[];
        notes?: string;
        status?: 'completed' | 'failed';
        ds?: boolean;
      },
    ) =>
      store.runs.create(
        newRun({
          name,
          tags: o.tags,
          notes: o.notes,
          status: o.status,
          datasetId: o.ds ? ds.id : null,
          cfg: { k: o.k ?? 2, lambda: o.lambda ?? 1, T: o.T ?? 100 },
        }),
      );
    mk('base ddpm', { k: 1, lambda: 0, tags: ['baseline'], status: 'completed' });
    mk('sa2 100%', { k: 2, lambda: 1, tags: ['sa', 'paper'], status: 'completed', ds: true });
    mk('sa3_under', { k: 3, lambda: 0.5, T: 1000, tags: ['sa'], status: 'failed', notes: 'diverged at lr 1e-3' });
    mk('sa2 other', { k: 2, lambda: 0.5, T: 1000, tags: ['paper'], ds: true });
    mk('plain', { notes: 'back\\slash' });
    return store;
  }
  const names = (store: RunStore, f: Parameters<RunStore['runs']['list']>[0]) => store.runs.list(f).map((r) => r.name);

  it('filters by status, tags (all must match), dataset, K, λ, T; newest first', () => {
    const store = seeded();
    expect(names(store, {})).toEqual(['plain', 'sa2 other', 'sa3_under', 'sa2 100%', 'base ddpm']);
    expect(names(store, { status: ['completed'] })).toEqual(['sa2 100%', 'base ddpm']);
    expect(names(store, { status: ['completed', 'failed'] })).toEqual(['sa3_under', 'sa2 100%', 'base ddpm']);
    expect(names(store, { tags: ['sa'] })).toEqual(['sa3_under', 'sa2 100%']);
    expect(names(store, { tags: ['sa', 'paper'] })).toEqual(['sa2 100%']);
    expect(names(store, { datasetId: 1 })).toEqual(['sa2 other', 'sa2 100%']);
    expect(names(store, { k: 2 })).toEqual(['plain', 'sa2 other', 'sa2 100%']);
    expect(names(store, { lambda: 0.5 })).toEqual(['sa2 other', 'sa3_under']);
    expect(names(store, { T: 1000 })).toEqual(['sa2 other', 'sa3_under']);
    expect(names(store, { k: 2, lambda: 0.5, tags: ['paper'] })).toEqual(['sa2 other']);
    expect(names(store, { status: ['completed'], tags: ['paper'], k: 3 })).toEqual([]);
    expect(names(store, { limit: 2 })).toEqual(['plain', 'sa2 other']);
    expect(names(store, { limit: 2, offset: 2 })).toEqual(['sa3_under', 'sa2 100%']);
    expect(store.runs.count({})).toBe(5);
    expect(store.runs.count({ tags: ['sa'] })).toBe(2);
    expect(store.runs.count({ T: 1000, status: ['failed'] })).toBe(1);
    expect(store.runs.count({ limit: 1 })).toBe(5);
    store.close();
  });

  it('text search matches name, notes, tags, dataset, preset; LIKE specials are literal', () => {
    const store = seeded();
    expect(names(store, { text: 'SA2' })).toEqual(['sa2 other', 'sa2 100%']);
    expect(names(store, { text: 'diverged' })).toEqual(['sa3_under']);
    expect(names(store, { text: 'basel' })).toEqual(['base ddpm']);
    expect(store.runs.count({ text: 'tiny' })).toBe(5);
    expect(store.runs.count({ text: 'shapes' })).toBe(5);
    // '%' and '_' are not wildcards, '\' is a character.
    expect(names(store, { text: '100%' })).toEqual(['sa2 100%']);
    expect(names(store, { text: '%' })).toEqual(['sa2 100%']);
    expect(names(store, { text: '3_u' })).toEqual(['sa3_under']);
    expect(names(store, { text: '_' })).toEqual(['sa3_under']);
    expect(names(store, { text: 'k\\s' })).toEqual(['plain']);
    expect(names(store, { text: "it's" })).toEqual([]);
    expect(names(store, { text: '   ' })).toHaveLength(5);
    expect(store.runs.count({ text: '%' })).toBe(1);
    store.close();
  });
});

describe('checkpoints, samples, gap curves, rewind', () => {
  it('CRUD and lookups', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    const c2 = store.checkpoints.add({
      runId: r.id,
      step: 2,
      kind: 'full',
      path: '/c2',
      bytes: 10,
      metrics: { loss: 3 },
    });
    const c4 = store.checkpoints.add({
      runId: r.id,
      step: 4,
      kind: 'full',
      path: '/c4',
      bytes: 20,
      metrics: { loss: 2 },
    });
    expect(c2).toMatchObject({ runId: r.id, step: 2, path: '/c2', bytes: 10, metrics: { loss: 3 } });
    expect(store.checkpoints.list(r.id).map((c) => c.step)).toEqual([2, 4]);
    expect(store.checkpoints.latest(r.id)!.id).toBe(c4.id);
    expect(store.checkpoints.at(r.id, 2)!.id).toBe(c2.id);
    expect(store.checkpoints.get(c4.id)!.path).toBe('/c4');
    expect(store.runs.get(r.id)!.lastCheckpointStep).toBe(4);
    expect(store.runs.list()[0]!.lastCheckpointStep).toBe(4);
    // Writing the same step again replaces it (a resumed run rewrites its checkpoint).
    store.checkpoints.add({ runId: r.id, step: 4, kind: 'full', path: '/c4b', bytes: 21, metrics: {} });
    expect(store.checkpoints.list(r.id).map((c) => c.path)).toEqual(['/c2', '/c4b']);

    const s = store.samples.add({
      runId: r.id,
      checkpointId: c2.id,
      step: 2,
      sampler: 'ddim',
      sampleSteps: 5,
      spacing: 'uniform',
      eta: 0,
      seed: 3,
      n: 4,
      ema: true,
      path: '/s.png',
    });
    expect(s).toMatchObject({ step: 2, ema: true, seed: 3, checkpointId: c2.id });
    expect(store.samples.ofCheckpoint(c2.id).map((x) => x.id)).toEqual([s.id]);
    expect(store.samples.list(r.id)).toHaveLength(1);
    expect(store.samples.get(s.id)!.path).toBe('/s.png');

    store.gaps.add({
      runId: r.id,
      step: 2,
      t0: 3,
      t: [3, 2, 1],
      meanAbs: [0.1, 0.2, 0.3],
      l2: [1, 2, 3],
      signedMean: [0, 0, -1],
    });
    store.gaps.add({
      runId: r.id,
      step: 4,
      t0: 3,
      t: [3, 2, 1],
      meanAbs: [0.4, 0.5, 0.6],
      l2: [1, 2, 3],
      signedMean: [0, 0, 1],
    });
    expect(store.gaps.list(r.id).map((g) => [g.step, g.meanAbs[2]])).toEqual([
      [2, 0.3],
      [4, 0.6],
    ]);
    store.close();
  });

  it('rewindTo drops everything after the resume step, so a resumed history has no duplicated steps', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    const pts = (from: number, to: number, v: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => [
        { step: from + i, name: 'loss', value: v },
        { step: from + i, name: 'lr', value: v },
      ]).flat();
    store.metrics.append(r.id, pts(1, 7, 1));
    store.runs.setProgress(r.id, 7, 1);
    for (const step of [3, 6])
      store.checkpoints.add({ runId: r.id, step, kind: 'full', path: `/c${step}`, bytes: 1, metrics: {} });
    store.samples.add({
      runId: r.id,
      checkpointId: null,
      step: 6,
      sampler: 'ddim',
      sampleSteps: 5,
      spacing: null,
      eta: null,
      seed: null,
      n: 1,
      ema: false,
      path: '/s6',
    });
    store.gaps.add({ runId: r.id, step: 6, t0: 2, t: [2, 1], meanAbs: [1, 1], l2: [1, 1], signedMean: [1, 1] });
    store.runs.rewind(r.id, 3);
    expect(store.runs.get(r.id)!.step).toBe(3);
    expect(store.metrics.series(r.id, 'loss').steps).toEqual([1, 2, 3]);
    expect(store.checkpoints.list(r.id).map((c) => c.step)).toEqual([3]);
    expect(store.samples.list(r.id)).toEqual([]);
    expect(store.gaps.list(r.id)).toEqual([]);
    // The resumed process records steps 4.. again, with new values.
    store.metrics.append(r.id, pts(4, 8, 2));
    const s = store.metrics.series(r.id, 'loss');
    expect(s.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.values).toEqual([1, 1, 1, 2, 2, 2, 2, 2]);
    store.close();
  });
});

describe('recoverInterrupted', () => {
  const died =
    'marks a running run whose owner died as interrupted, naming its last checkpoint; ' + 'live owners are untouched';
  it(died, () => {
    const store = freshStore();
    const dead = store.runs.create(newRun({ name: 'dead' }));
    const deadNoCk = store.runs.create(newRun({ name: 'dead-no-ck' }));
    const live = store.runs.create(newRun({ name: 'live' }));
    const recycled = store.runs.create(newRun({ name: 'recycled' }));
    const done = store.runs.create(newRun({ name: 'done', status: 'completed' }));
    // A pid that certainly existed and is now gone: a child that has exited.
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout.trim());
    store.runs.markRunning(dead.id, { pid: deadPid, start: 'whatever' });
    store.runs.markRunning(deadNoCk.id, { pid: deadPid, start: '' });
    store.checkpoints.add({ runId: dead.id, step: 40, kind: 'full', path: '/c40', bytes: 1, metrics: {} });
    store.checkpoints.add({ runId: dead.id, step: 80, kind: 'full', path: '/c80', bytes: 1, metrics: {} });
    store.runs.markRunning(live.id, currentOwner());
    // This process's pid, but another start time: a recycled pid is not the owner.
    const me = currentOwner();
    if (me.start) store.runs.markRunning(recycled.id, { pid: process.pid, start: `${me.start}-not` });
    else store.runs.markRunning(recycled.id, { pid: deadPid, start: '' });
    const found = store.runs.recoverInterrupted();
    expect(found.sort()).toEqual([dead.id, deadNoCk.id, recycled.id].sort());
    expect(store.runs.get(dead.id)).toMatchObject({
      status: 'interrupted',
      failureReason: expect.stringMatching(/last good checkpoint: step 80/),
    });
    expect(store.runs.get(deadNoCk.id)!.failureReason).toMatch(/no checkpoint was written yet/);
    expect(store.runs.get(live.id)!.status).toBe('running');
    expect(store.runs.get(done.id)!.status).toBe('completed');
    // Idempotent.
    expect(store.runs.recoverInterrupted()).toEqual([]);
    expect(processStart(process.pid)).toBe(me.start);
    store.close();
  });

  const queued =
    "a queued run whose queue's process died becomes interrupted (resumable); " +
    'created-not-started and live queues stay queued';
  it(queued, () => {
    const store = freshStore();
    const orphan = store.runs.create(newRun({ name: 'orphan' }));
    const created = store.runs.create(newRun({ name: 'created' }));
    const waiting = store.runs.create(newRun({ name: 'waiting' }));
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    store.runs.markQueued(orphan.id, { pid: Number(child.stdout.trim()), start: 'gone' });
    store.runs.markQueued(waiting.id, currentOwner());
    expect(store.runs.recoverInterrupted()).toEqual([orphan.id]);
    expect(store.runs.get(orphan.id)).toMatchObject({
      status: 'interrupted',
      failureReason: expect.stringMatching(/queued this run exited before it started.*no checkpoint/),
    });
    expect(RESUMABLE_STATUSES).toContain(store.runs.get(orphan.id)!.status);
    expect(store.runs.get(created.id)!.status).toBe('queued');
    expect(store.runs.get(waiting.id)!.status).toBe('queued');
    // Starting clears the queue owner's claim: the running owner is what counts from then on.
    store.runs.markRunning(waiting.id, currentOwner());
    expect(store.runs.recoverInterrupted()).toEqual([]);
    store.close();
  });

  it('another process opening the same store sees the recovery', () => {
    const root = tmpDir();
    const a = RunStore.open(root);
    const r = a.runs.create(newRun());
    a.runs.markRunning(r.id, { pid: 2 ** 22 + 12345, start: '' });
    const b = RunStore.open(root);
    expect(b.runs.recoverInterrupted()).toEqual([r.id]);
    expect(a.runs.get(r.id)!.status).toBe('interrupted');
    a.close();
    b.close();
  });
});

describe('disk use', () => {
  it('counts checkpoint, sample and other bytes of a run folder', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    mkdirSync(join(r.runDir, 'checkpoints'), { recursive: true });
    mkdirSync(join(r.runDir, 'samples'), { recursive: true });
    writeFileSync(join(r.runDir, 'checkpoints', 'a'), Buffer.alloc(1000));
    writeFileSync(join(r.runDir, 'samples', 'b.png'), Buffer.alloc(300));
    writeFileSync(join(r.runDir, 'config.json'), Buffer.alloc(20));
    expect(store.runs.diskUse(r.id)).toEqual({ total: 1320, checkpoints: 1000, samples: 300, other: 20 });
    store.close();
  });
});
