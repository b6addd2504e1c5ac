// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../../src/renderer/src/api';
import { useJobsStore, JobCancelled } from '../../../src/renderer/src/stores/jobs';
import { ApiCallError } from '../../../src/renderer/src/api/errors';
import { FakeApi, rejection, sampleRecord } from './fakeApi';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('jobs store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeApi()
      .handle('samples.generate', () => ({ jobId: 'j1' }))
      .handle('jobs.cancel', () => ({ ok: true as const }));
    setApi(api);
  });

  it('tracks progress and resolves with the result of job.done', async () => {
    const jobs = useJobsStore();
    const h = jobs.run('sample', 'Sample', () =>
      api.invoke('samples.generate', {
        checkpointId: 1,
        settings: { n: 4, sampler: 'ddim', steps: 10, spacing: 'uniform', eta: 0, seed: 0, ema: true },
      }),
    );
    expect(h.job.state).toBe('starting');
    await tick();
    expect(h.job.id).toBe('j1');
    api.emit('job.progress', { jobId: 'j1', done: 3, total: 10 });
    expect(h.job.done).toBe(3);
    expect(h.job.total).toBe(10);
    expect(jobs.active).toHaveLength(1);
    api.emit('job.done', { jobId: 'j1', kind: 'sample', ok: true, result: sampleRecord({ path: '/x.png' }) });
    await expect(h.result).resolves.toEqual(sampleRecord({ path: '/x.png' }));
    expect(h.job.state).toBe('done');
    expect(jobs.active).toHaveLength(0);
  });

  it('applies events that arrive before the start call answered', async () => {
    let answer!: (v: { jobId: string }) => void;
    const jobs = useJobsStore();
    jobs.subscribe();
    const h = jobs.run('sample', 'Sample', () => new Promise((r) => (answer = r)));
    api.emit('job.progress', { jobId: 'early', done: 5, total: 5 });
    api.emit('job.done', { jobId: 'early', kind: 'sample', ok: true, result: sampleRecord({ id: 7 }) });
    answer({ jobId: 'early' });
    await expect(h.result).resolves.toMatchObject({ id: 7 });
    expect(h.job.done).toBe(5);
  });

  it("a result that is not its kind's result fails the job, naming the kind", async () => {
    const jobs = useJobsStore();
    const h = jobs.run('sample', 'Sample', async () => ({ jobId: 'j5' }));
    await tick();
    api.emit('job.done', { jobId: 'j5', kind: 'sample', ok: true, result: { path: 42 } });
    const err = await rejection(h.result);
    expect(err.message).toMatch(/^Sample: the server's result is not a sample result/);
    expect(h.job.state).toBe('failed');
  });

  it('cancel calls jobs.cancel and the job ends as cancelled', async () => {
    const jobs = useJobsStore();
    const h = jobs.run('sample', 'Sample', async () => ({ jobId: 'j2' }));
    await tick();
    await jobs.cancel(h.job);
    expect(api.callsTo('jobs.cancel')).toEqual([{ jobId: 'j2' }]);
    expect(h.job.state).toBe('cancelling');
    api.emit('job.done', { jobId: 'j2', kind: 'sample', ok: false, error: 'cancelled' });
    await expect(h.result).rejects.toBeInstanceOf(JobCancelled);
    expect(h.job.state).toBe('cancelled');
  });

  it('a failed job rejects with its error message; a failed start too', async () => {
    const jobs = useJobsStore();
    const h = jobs.run('export', 'Export grid', async () => ({ jobId: 'j3' }));
    await tick();
    api.emit('job.done', { jobId: 'j3', kind: 'sample', ok: false, error: 'disk full' });
    const err = await rejection(h.result);
    expect(err).toBeInstanceOf(ApiCallError);
    expect(err.message).toBe('Export grid: disk full');
    expect(h.job.state).toBe('failed');
    const h2 = jobs.run('export', 'Export', async () => {
      throw Object.assign(new Error('no checkpoint #4'), { code: 'not_found' });
    });
    const err2 = await rejection(h2.result);
    expect(err2.code).toBe('not_found');
    expect(h2.job.error).toBe('no checkpoint #4');
  });
});
