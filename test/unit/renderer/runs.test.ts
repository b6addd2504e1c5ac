// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../../src/renderer/src/api';
import { useRunsStore } from '../../../src/renderer/src/stores/runs';
import { FakeApi, runRecord } from './fakeApi';

describe('runs store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    const runs = [
      runRecord({ id: 1, name: 'baseline cifar', status: 'completed', k: 1, lambda: 0, tags: ['cifar10', 'baseline'] }),
      runRecord({ id: 2, name: 'sa-2 cifar', status: 'running', tags: ['cifar10'], notes: 'λ=1 as in the paper' }),
      runRecord({ id: 3, name: 'celeba', status: 'failed', dataset: 'celeba64', tags: [] }),
    ];
    api = new FakeApi()
      .handle('runs.list', () => ({ runs, total: runs.length }))
      .handle('runs.pause', ({ id }) => ({ ...runs.find((r) => r.id === id)!, status: 'paused' as const }))
      .handle('runs.delete', () => ({ ok: true as const }));
    setApi(api);
  });

  it('lists newest first and filters by text, status and tags together', async () => {
    const s = useRunsStore();
    await s.refresh();
    expect(s.all.map((r) => r.id)).toEqual([3, 2, 1]);
    s.text = 'cifar';
    expect(s.filtered.map((r) => r.id)).toEqual([2, 1]);
    s.text = 'paper';
    expect(s.filtered.map((r) => r.id)).toEqual([2]);
    s.text = '';
    s.statuses = ['failed', 'completed'];
    expect(s.filtered.map((r) => r.id)).toEqual([3, 1]);
    s.statuses = [];
    s.tags = ['cifar10', 'baseline'];
    expect(s.filtered.map((r) => r.id)).toEqual([1]);
    expect(s.allTags).toEqual(['baseline', 'cifar10']);
  });

  it('applies run.updated events and action results to the list', async () => {
    const s = useRunsStore();
    s.subscribe();
    await s.refresh();
    api.emit('run.updated', runRecord({ id: 2, name: 'sa-2 cifar', status: 'running', step: 150 }));
    expect(s.get(2)!.step).toBe(150);
    api.emit('run.updated', runRecord({ id: 9, name: 'new one', status: 'queued' }));
    expect(s.all[0]!.id).toBe(9);
    await s.act('pause', 2);
    expect(s.get(2)!.status).toBe('paused');
    await s.remove(3, true);
    expect(api.callsTo('runs.delete')).toEqual([{ id: 3, deleteFiles: true }]);
    expect(s.get(3)).toBeUndefined();
  });

  it('keeps the error of a failed refresh for the view', async () => {
    api.handle('runs.list', () => {
      throw Object.assign(new Error('database is locked'), { code: 'failed' });
    });
    const s = useRunsStore();
    await s.refresh();
    expect((s.loadError as Error).message).toBe('database is locked');
  });
});
