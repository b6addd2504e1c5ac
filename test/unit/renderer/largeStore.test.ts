// @vitest-environment happy-dom
/**
 * A store larger than the shell loads (issue 15): the shell reads the newest runs and the counts, not every run;
 * counts, the running figure and tags come from runs.overview (and follow status changes); other runs are read
 * when a view needs them (by id, by parent, by search); run pickers search the store; the Runs view's list pages
 * through the store as it scrolls, with its search and filters applied by the store.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { defineComponent, h, ref, type Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { RECENT_RUNS, useRunsStore } from '../../../src/renderer/src/stores/runs';
import type { InvokeRequest } from '../../../src/shared/contract';
import type { RunRecord, RunStatus } from '../../../src/shared/records';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let RunSelect: Component;
let RunsView: Component;
beforeAll(async () => {
  RunSelect = await loadSfc('src/renderer/src/components/RunSelect.vue');
  RunsView = await loadSfc('src/renderer/src/views/RunsView.vue');
});

const N = 1_000;
const statusOf = (id: number): RunStatus => (id % 10 === 0 ? 'running' : id % 3 === 0 ? 'failed' : 'completed');
let store: Map<number, RunRecord>;

/** runs.list as the store answers it (newest first), for the filters these views send. */
function list(f: InvokeRequest<'runs.list'>): { runs: RunRecord[]; total: number } {
  let rows = [...store.values()].sort((a, b) => b.id - a.id);
  for (const c of f.where ?? []) if (c.key === 'id') rows = rows.filter((r) => [c.value].flat().includes(r.id));
  if (f.text) rows = rows.filter((r) => r.name.includes(f.text!));
  if (f.status) rows = rows.filter((r) => f.status!.includes(r.status));
  if (f.kind) rows = rows.filter((r) => r.kind === f.kind);
  if (f.parentId !== undefined) rows = rows.filter((r) => r.parentId === f.parentId);
  const from = f.offset ?? 0;
  return { runs: rows.slice(from, from + (f.limit ?? 1000)), total: rows.length };
}

function overview() {
  const byStatus: Record<string, number> = {};
  for (const r of store.values()) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return {
    total: store.size,
    byStatus,
    byKind: { train: store.size },
    tags: [{ tag: 'bulk', count: N }],
    tagsTotal: 1,
  };
}

describe('the shell and its views in a store of 1,000 runs', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    localStorage.clear();
    store = new Map();
    for (let id = 1; id <= N; id++) {
      store.set(id, runRecord({ id, name: `run-${id}`, status: statusOf(id), tags: ['bulk'] }));
    }
    api = new FakeApi()
      .handle('runs.list', list)
      .handle('runs.overview', overview)
      .handle('datasets.list', () => []);
    setApi(api);
  });
  afterEach(() => vi.useRealTimers());

  it('starts with the newest runs and the counts, not every run', async () => {
    const runs = useRunsStore();
    await runs.refresh();
    expect(api.callsTo('runs.list')).toEqual([{ limit: RECENT_RUNS, withEvals: true }]);
    expect(runs.all).toHaveLength(RECENT_RUNS);
    expect(runs.all[0]!.id).toBe(N);
    expect(runs.complete).toBe(false);
    expect([runs.total, runs.statusCounts.running, runs.statusCounts.failed]).toEqual([N, 100, 300]);
    expect(runs.allTags).toEqual(['bulk']);
  });

  it('reads older runs when asked, keeps them current on a refresh, and drops the deleted', async () => {
    const runs = useRunsStore();
    await runs.refresh();
    await runs.ensure([5, 7, N]);
    expect([runs.get(5)?.name, runs.get(7)?.name]).toEqual(['run-5', 'run-7']);
    expect(api.callsTo('runs.list').at(-1)).toEqual({
      where: [{ key: 'id', op: 'in', value: [5, 7] }],
      limit: 2,
      withEvals: true,
    });
    store.set(5, { ...store.get(5)!, status: 'stopped' });
    store.delete(7);
    await runs.refresh();
    expect(runs.get(5)?.status).toBe('stopped');
    expect(runs.get(7)).toBeUndefined();
  });

  it('reads the counts again when a run changes status, at most once a second', async () => {
    vi.useFakeTimers();
    const runs = useRunsStore();
    runs.subscribe();
    await runs.refresh();
    const before = api.callsTo('runs.overview').length;
    store.set(N, { ...store.get(N)!, status: 'failed' });
    api.emit('run.updated', store.get(N)!);
    api.emit('run.updated', { ...store.get(N - 1)!, status: 'stopped' });
    api.emit('run.updated', { ...store.get(N)!, step: 5 });
    await vi.advanceTimersByTimeAsync(1100);
    expect(api.callsTo('runs.overview').length).toBe(before + 1);
    expect(runs.statusCounts.running).toBe(99);
  });

  it('reads the covariance runs of a run a view opens', async () => {
    store.set(N + 1, runRecord({ id: N + 1, kind: 'cov', parentId: 3, name: 'head' }));
    const runs = useRunsStore();
    await runs.refresh();
    expect(runs.get(N + 1)).toBeDefined();
    store.set(N + 2, runRecord({ id: N + 2, kind: 'cov', parentId: 3, name: 'head 2' }));
    await runs.loadChildren(3);
    expect(api.callsTo('runs.list').at(-1)).toEqual({ parentId: 3, limit: 1000, withEvals: true });
    expect(runs.get(N + 2)?.name).toBe('head 2');
  });

  it('a run picker searches the store and names a picked run the shell did not load', async () => {
    vi.useFakeTimers();
    const runs = useRunsStore();
    await runs.refresh();
    const picked = ref<number | null>(3);
    const Host = defineComponent(
      () => () =>
        h(RunSelect, { modelValue: picked.value, 'onUpdate:modelValue': (v: number | null) => (picked.value = v) }),
    );
    const w = mount(Host);
    await vi.advanceTimersByTimeAsync(0);
    const options = () => w.findAll('option').map((o) => o.text());
    // The newest runs, and the picked one (older than those) read from the store; then a hint to search.
    expect(options()[1]).toBe(`#${N} run-${N} · running · step 0`);
    expect(options().at(-2)).toBe('#3 run-3 · failed · step 0');
    expect(options().at(-1)).toBe('… older runs: search to find them (or #id)');
    expect(options()).toHaveLength(RECENT_RUNS + 3);
    await w.get('[data-testid="run-select-search"]').setValue('run-42');
    await vi.advanceTimersByTimeAsync(300);
    expect(api.callsTo('runs.list').at(-1)).toEqual({ text: 'run-42', limit: 50, withEvals: true });
    // The picked run stays listed, then the matches newest first.
    const matches = [429, 428, 427, 426, 425, 424, 423, 422, 421, 420, 42];
    expect(options().slice(1)).toEqual([3, ...matches].map((id) => `#${id} run-${id} · ${statusOf(id)} · step 0`));
    expect(options().at(-1)).toBe('#42 run-42 · failed · step 0');
    await w.get('select').setValue('42');
    expect(picked.value).toBe(42);
    await w.get('[data-testid="run-select-search"]').setValue('run-1');
    await vi.advanceTimersByTimeAsync(300);
    // run-1, run-10..19, run-100..199, run-1000: 112 match, the newest 50 listed (and the picked run); '#id'
    // reads one run by its id.
    expect(options()).toHaveLength(1 + 1 + 50 + 1);
    expect(options().at(-1)).toBe('… 62 more match: type more to narrow');
    await w.get('[data-testid="run-select-search"]').setValue('#7');
    await vi.advanceTimersByTimeAsync(300);
    expect(api.callsTo('runs.list').at(-1)).toEqual({
      where: [{ key: 'id', op: 'eq', value: 7 }],
      limit: 50,
      withEvals: true,
    });
    expect(options().slice(1)).toEqual(['#42 run-42 · failed · step 0', '#7 run-7 · completed · step 0']);
  });

  it('the Runs list pages through the store as it scrolls, searched and filtered by the store', async () => {
    vi.useFakeTimers();
    localStorage.setItem('sadpm.runs.mode', 'list');
    const w = mount(RunsView, { global: { stubs: { CovHeadDialog: true } } });
    await vi.advanceTimersByTimeAsync(0);
    const rows = () => w.findAll('[data-testid^="run-row-"]').map((r) => r.attributes('data-testid'));
    expect(w.get('[data-testid="runs-count"]').text()).toBe('(1,000 of 1,000)');
    expect(rows()[0]).toBe(`run-row-${N}`);
    expect(w.get('[data-testid="filter-status-running"]').text()).toBe('running 100');
    expect(api.callsTo('runs.list')).toContainEqual({ limit: 100, offset: 0, withEvals: true });
    // The list's end in view: the next page.
    const box = w.get('[data-testid="runs-list"]').element as HTMLElement;
    box.scrollTop = 100 * 52;
    box.dispatchEvent(new Event('scroll'));
    await vi.advanceTimersByTimeAsync(0);
    expect(api.callsTo('runs.list')).toContainEqual({ limit: 100, offset: 100, withEvals: true });
    expect(rows()).toContain(`run-row-${N - 105}`);
    // Search and a status chip: the store filters.
    await w.get('[data-testid="runs-search"]').setValue('run-99');
    await w.get('[data-testid="filter-status-running"]').trigger('click');
    await vi.advanceTimersByTimeAsync(300);
    expect(api.callsTo('runs.list').at(-1)).toEqual({
      text: 'run-99',
      status: ['running'],
      limit: 100,
      offset: 0,
      withEvals: true,
    });
    expect(w.get('[data-testid="runs-count"]').text()).toBe('(1 of 1,000)');
    expect(rows()).toEqual(['run-row-990']);
    w.unmount();
  });
});
