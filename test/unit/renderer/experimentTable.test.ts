// @vitest-environment happy-dom
/**
 * The Runs view's experiment table as a user works it (issue 15): a header click sorts (and says so to
 * assistive tech), a filter typed under a header narrows the page, a bad filter is named, group by shows mean
 * ± std per group and a group click shows its runs, a selection opens in the monitor with the others overlaid,
 * and the Table/List choice is remembered.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { navigate, route } from '../../../src/renderer/src/router';
import type { RunRecord } from '../../../src/shared/records';
import type { InvokeRequest } from '../../../src/shared/contract';
import { resolveRunConfig } from '../../../src/shared/config';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let ExperimentTable: Component;
let RunsView: Component;
beforeAll(async () => {
  ExperimentTable = await loadSfc('src/renderer/src/components/runs/ExperimentTable.vue');
  RunsView = await loadSfc('src/renderer/src/views/RunsView.vue');
});

/** λ ∈ {0, 1} × seed ∈ {0, 1, 2}; the fake store answers conditions on λ and sorts by λ as the real one does. */
const RUNS: RunRecord[] = [0, 1].flatMap((lambda) =>
  [0, 1, 2].map((seed) =>
    runRecord({
      id: 1 + lambda * 3 + seed,
      name: `l${lambda}-s${seed}`,
      lambda,
      seed,
      status: 'completed',
      lastLoss: 1 + lambda + seed / 10,
      config: { ...resolveRunConfig({}), lambda, seed },
    }),
  ),
);

function list(f: InvokeRequest<'runs.list'>): { runs: RunRecord[]; total: number } {
  let rows = [...RUNS].reverse();
  for (const c of f.where ?? []) {
    if (c.key === 'lambda' && c.op === 'eq') rows = rows.filter((r) => r.lambda === c.value);
    if (c.key === 'id' && c.op === 'in') rows = rows.filter((r) => (c.value as number[]).includes(r.id));
  }
  if (f.sort?.key === 'lambda') rows.sort((a, b) => (a.lambda - b.lambda) * (f.sort!.dir === 'asc' ? 1 : -1));
  return { runs: rows.slice(f.offset ?? 0, (f.offset ?? 0) + (f.limit ?? 1000)), total: rows.length };
}

describe('the experiment table', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    localStorage.clear();
    navigate('runs');
    api = new FakeApi().handle('runs.list', list).handle('runs.groups', () => [
      { value: 0, count: 3, stats: { step: { mean: 0, std: 0, n: 3 }, loss: { mean: 1.1, std: 0.1, n: 3 } } },
      { value: 1, count: 3, stats: { step: { mean: 0, std: 0, n: 3 }, loss: { mean: 2.1, std: 0.1, n: 3 } } },
    ]);
    setApi(api);
  });

  const rowIds = (w: ReturnType<typeof mount>) =>
    w.findAll('[data-testid^="xtable-row-"]').map((r) => Number(r.attributes('data-testid')!.slice(11)));

  it('sorts by a header click, then the other way, and marks the sorted column', async () => {
    const w = mount(ExperimentTable);
    await flushPromises();
    expect(rowIds(w)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(w.get('[data-testid="xtable-range"]').text()).toBe('1–6 of 6');
    expect(w.get('[data-testid="xtable-cell-5-lambda"]').text()).toBe('1');
    await w.get('[data-testid="xtable-sort-lambda"]').trigger('click');
    await flushPromises();
    expect(rowIds(w).slice(0, 3)).toEqual([3, 2, 1]);
    expect(w.get('[data-testid="xtable-sort-lambda"]').element.parentElement!.getAttribute('aria-sort')).toBe(
      'ascending',
    );
    await w.get('[data-testid="xtable-sort-lambda"]').trigger('click');
    await flushPromises();
    expect(rowIds(w).slice(0, 3)).toEqual([6, 5, 4]);
    expect(w.get('[data-testid="xtable-sort-lambda"]').text()).toContain('▼');
  });

  it('filters by what is typed under a header, and names a filter it cannot read', async () => {
    const w = mount(ExperimentTable);
    await flushPromises();
    const f = w.get('[data-testid="xtable-filter-lambda"]');
    await f.setValue('1');
    await flushPromises();
    expect(rowIds(w)).toEqual([6, 5, 4]);
    await f.setValue('>>1');
    await flushPromises();
    expect(w.get('[data-testid="xtable-filter-error"]').text()).toBe(
      "λ: '>1' is not a number (try >0.5, <=1e-3, !=0, 2, or a list 0, 0.5)",
    );
    expect(f.classes()).toContain('xtable__filter--bad');
  });

  it('groups by a column with mean ± std, and a group click shows its runs', async () => {
    const w = mount(ExperimentTable);
    await flushPromises();
    await w.get('[data-testid="xtable-group"]').setValue('lambda');
    await flushPromises();
    expect(api.callsTo('runs.groups').at(-1)).toMatchObject({
      by: 'lambda',
      columns: ['step', 'loss', 'gap', 'ips', 'duration'],
    });
    expect(w.get('[data-testid="xtable-group-1-loss"]').text()).toBe('2.1 ± 0.1');
    await w.get('[data-testid="xtable-group-1"]').trigger('click');
    await flushPromises();
    expect((w.get('[data-testid="xtable-filter-lambda"]').element as HTMLInputElement).value).toBe('=1');
    expect(rowIds(w)).toEqual([6, 5, 4]);
  });

  it('opens a selection in the monitor, the first run shown and the others overlaid', async () => {
    const w = mount(ExperimentTable);
    await flushPromises();
    await w.get('[data-testid="xtable-select-5"]').setValue(true);
    await w.get('[data-testid="xtable-select-2"]').setValue(true);
    await w.get('[data-testid="xtable-select-1"]').setValue(true);
    expect(w.get('[data-testid="xtable-selected"]').text()).toBe('3 selected');
    await w.get('[data-testid="xtable-overlay"]').trigger('click');
    expect([route.view, route.id, route.query.overlay]).toEqual(['monitor', 5, '2,1']);
  });

  it('diffs the configs of the selected runs: only the fields that differ, values unlike the first marked', async () => {
    const w = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    await w.get('[data-testid="xtable-select-5"]').setValue(true);
    expect(w.get('[data-testid="xtable-diff-open"]').attributes('disabled')).toBeDefined();
    await w.get('[data-testid="xtable-select-1"]').setValue(true);
    await w.get('[data-testid="xtable-select-2"]').setValue(true);
    await w.get('[data-testid="xtable-diff-open"]').trigger('click');
    await flushPromises();
    // The selected runs are read again by id (they may be on other pages).
    expect(api.callsTo('runs.list').at(-1)).toEqual({ where: [{ key: 'id', op: 'in', value: [5, 1, 2] }], limit: 3 });
    const rows = w.findAll('[data-testid^="xtable-diff-"]').map((r) => r.attributes('data-testid'));
    expect(w.find('[data-testid="xtable-diff"]').exists()).toBe(true);
    expect(rows.slice(1).sort()).toEqual(['xtable-diff-lambda', 'xtable-diff-seed']);
    const cells = (key: string) =>
      w.findAll(`[data-testid="xtable-diff-${key}"] td`).map((c) => [c.text(), c.classes('diff-cell--changed')]);
    expect(cells('lambda')).toEqual([
      ['lambda', false],
      ['1', false],
      ['0', true],
      ['0', true],
    ]);
    expect(cells('seed')).toEqual([
      ['seed', false],
      ['1', false],
      ['0', true],
      ['1', false],
    ]);
    w.unmount();
  });

  it('is the Runs view when Table is chosen, and stays so on the next visit', async () => {
    api.handle('datasets.list', () => []);
    const w = mount(RunsView, { global: { stubs: { CovHeadDialog: true } } });
    await flushPromises();
    expect(w.find('[data-testid="xtable"]').exists()).toBe(false);
    await w.get('[data-testid="runs-mode-table"]').trigger('click');
    await flushPromises();
    expect(w.find('[data-testid="xtable"]').exists()).toBe(true);
    expect(w.find('[data-testid="runs-list"]').exists()).toBe(false);
    w.unmount();
    const again = mount(RunsView, { global: { stubs: { CovHeadDialog: true } } });
    await flushPromises();
    expect(again.find('[data-testid="xtable"]').exists()).toBe(true);
    expect(again.get('[data-testid="runs-mode-table"]').attributes('aria-pressed')).toBe('true');
  });
});
