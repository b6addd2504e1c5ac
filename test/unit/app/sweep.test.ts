/**
 * Creating and recording sweeps (issue 16): one run per cell, all or nothing; the grid as the store reads it;
 * the runs table filtered by sweep; runs on a cluster left alone by crash recovery; a refused Slurm job leaves
 * nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { FieldError } from '../../../src/shared/errors';
import { createSweep, submitSweep } from '../../../src/app/useCases/createSweep';
import { SlurmExecutor } from '../../../src/app/executors/slurmExecutor';
import { RunService } from '../../../src/app/runService';
import { freshStore } from '../store/helpers';
import { fakeSpawner } from './fakeEngine';

const base = { preset: 'tiny', T: 20, steps: 4, dataset: 'builtin:shapes', gapT0: 4, sampleSteps: 3 };

describe('sweeps in the store', () => {
  it('one run per cell, named and tagged after the sweep, with the swept values in its config', () => {
    const store = freshStore();
    const { sweep, runs } = createSweep(store, { base, axes: { k: [1, 2], lambda: [0, 1], seeds: [5] }, tags: ['x'] });
    expect(sweep).toMatchObject({ id: 1, name: 'sweep-1', executor: 'local', jobId: null, maxParallel: null });
    expect(runs.map((r) => [r.name, r.k, r.lambda, r.seed, r.status])).toEqual([
      ['sweep-1-k1-l0-s5', 1, 0, 5, 'queued'],
      ['sweep-1-k1-l1-s5', 1, 1, 5, 'queued'],
      ['sweep-1-k2-l0-s5', 2, 0, 5, 'queued'],
      ['sweep-1-k2-l1-s5', 2, 1, 5, 'queued'],
    ]);
    expect(runs[0]!.tags).toEqual(['sweep-1', 'x']);
    expect(runs[0]!.config).toMatchObject({ T: 20, steps: 4 });
    const cells = store.sweeps.cells(sweep.id);
    expect(cells.map((c) => c.runId)).toEqual(runs.map((r) => r.id));
    expect(cells[0]).toMatchObject({ status: 'queued', step: 0, totalSteps: 4, slurmRef: null });
    expect(store.sweeps.find('sweep-1')?.id).toBe(1);
  });

  it('an invalid cell stores nothing, and names the cell and the field', () => {
    const store = freshStore();
    const cfg = { ...base, T: 4, gapT0: 2, sampleSteps: 2 };
    const bad = () => createSweep(store, { base: cfg, axes: { k: [1, 5], lambda: [1], seeds: [0] } });
    expect(bad).toThrow(FieldError);
    expect(bad).toThrow(/^k: cell k=5 λ=1 seed=0: k \(5\) must be <= T \(4\)/);
    expect(store.runs.list()).toEqual([]);
    expect(store.sweeps.list()).toEqual([]);
    expect(() => createSweep(store, { base: { ...base, seed: 1 }, axes: { k: [1], lambda: [1], seeds: [0] } })).toThrow(
      'seed: is swept',
    );
    expect(() => createSweep(store, { base, axes: { k: [1], lambda: [1], seeds: [0] }, slurm: { gpus: 1 } })).toThrow(
      /executor: Slurm options were given/,
    );
    expect(() =>
      createSweep(store, {
        base,
        axes: { k: [1], lambda: [1], seeds: [0] },
        executor: 'slurm',
        slurm: { ssh: 'login' },
      }),
    ).toThrow(/remoteDir: a folder on the cluster/);
  });

  it('the runs table filters by sweep; a deleted run leaves its cell, marked deleted', () => {
    const store = freshStore();
    const a = createSweep(store, { base, axes: { k: [1], lambda: [0, 1], seeds: [0] } });
    const b = createSweep(store, { name: 'other', base, axes: { k: [2], lambda: [1], seeds: [0, 1] } });
    expect(
      store.runs
        .list({ sweepId: a.sweep.id })
        .map((r) => r.id)
        .sort(),
    ).toEqual(a.runs.map((r) => r.id));
    expect(store.runs.count({ sweepId: b.sweep.id })).toBe(2);
    store.runs.delete(b.runs[0]!.id, { deleteFiles: false });
    const cells = store.sweeps.cells(b.sweep.id).map((c) => [c.runId, c.status]);
    expect(cells).toEqual([
      [null, null],
      [b.runs[1]!.id, 'queued'],
    ]);
  });

  it('crash recovery leaves runs on a cluster alone (no studio process owns them), and only those', () => {
    const store = freshStore();
    const { runs } = createSweep(store, { base, axes: { k: [1], lambda: [0, 1], seeds: [0] } });
    store.remote.add(runs[0]!.id, {}, 12, 0);
    store.remote.applyStatus(runs[0]!.id, 'running', null);
    store.runs.markRunning(runs[1]!.id, { pid: 999_999_999, start: 'gone' });
    expect(store.runs.recoverInterrupted()).toEqual([runs[1]!.id]);
    expect(store.runs.get(runs[0]!.id)!.status).toBe('running');
  });

  it('local: max-parallel is the queue concurrency and every cell trains', async () => {
    const store = freshStore();
    const log = { spawned: 0, commands: [] };
    const service = new RunService(store, fakeSpawner(log), { flushMs: 5 });
    const created = createSweep(store, { base, axes: { k: [1, 2], lambda: [1], seeds: [0] }, maxParallel: 2 });
    const done = await submitSweep(store, { runs: service, slurm: new SlurmExecutor(store) }, created);
    expect(service.concurrency).toBe(2);
    expect((await Promise.all(done)).map((o) => o.status)).toEqual(['completed', 'completed']);
    expect(store.sweeps.cells(created.sweep.id).map((c) => c.step)).toEqual([4, 4]);
  });

  it('a job Slurm (or ssh) refuses leaves neither the sweep nor its runs', async () => {
    const store = freshStore();
    const slurm = new SlurmExecutor(store, { sshProgram: 'false', log: () => {} });
    const created = createSweep(store, {
      base,
      axes: { k: [1], lambda: [0, 1], seeds: [0] },
      executor: 'slurm',
      slurm: { ssh: 'login', remoteDir: '/scratch/sadpm' },
    });
    const service = new RunService(store, fakeSpawner({ spawned: 0, commands: [] }));
    await expect(submitSweep(store, { runs: service, slurm }, created)).rejects.toThrow(/ssh login: mkdir .* failed/);
    expect(store.runs.list()).toEqual([]);
    expect(store.sweeps.list()).toEqual([]);
    await slurm.stop();
  });
});
