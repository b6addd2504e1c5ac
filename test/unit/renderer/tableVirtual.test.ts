// @vitest-environment happy-dom
/**
 * The experiment table with many runs (issue 15): only the rows in view (and a small overscan) are in the DOM,
 * scrolling shows later runs and fetches their pages from the store (never the whole table), the keyboard moves
 * between rows, and a selection opens in Compare (refused, with the reason, under two runs).
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { navigate, route } from '../../../src/renderer/src/router';
import type { InvokeRequest } from '../../../src/shared/contract';
import type { RunRecord } from '../../../src/shared/records';
import { compareSelection, rowKeyAction, ROW_HEIGHT } from '../../../src/renderer/src/runTableView';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let ExperimentTable: Component;
beforeAll(async () => {
  ExperimentTable = await loadSfc('src/renderer/src/components/runs/ExperimentTable.vue');
});

const N = 10_000;
/** The store's answer for a page of N runs, newest first (ids N..1), without building all N records. */
function page(f: InvokeRequest<'runs.list'>): { runs: RunRecord[]; total: number } {
  const from = f.offset ?? 0;
  const to = Math.min(N, from + (f.limit ?? 1000));
  const runs: RunRecord[] = [];
  for (let i = from; i < to; i++) runs.push(runRecord({ id: N - i, name: `r${N - i}`, status: 'completed' }));
  return { runs, total: N };
}

const rowIds = (w: VueWrapper) =>
  w.findAll('[data-testid^="xtable-row-"]').map((r) => Number(r.attributes('data-testid')!.slice(11)));

async function scrollTo(w: VueWrapper, px: number): Promise<void> {
  const box = w.get('[data-testid="xtable-body"]').element as HTMLElement;
  box.scrollTop = px;
  box.dispatchEvent(new Event('scroll'));
  await flushPromises();
}

describe('the experiment table with 10,000 runs', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    localStorage.clear();
    navigate('runs');
    api = new FakeApi().handle('runs.list', page).handle('runs.groups', () => []);
    setApi(api);
  });

  it('renders only the rows in view and a few more, and scrolling shows later runs from their page', async () => {
    const w = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    const first = rowIds(w);
    expect(first[0]).toBe(N);
    // happy-dom lays out nothing: the box counts as 600 px high, about 21 rows of 28 px, plus the overscan.
    expect(first.length).toBeGreaterThan(10);
    expect(first.length).toBeLessThan(60);
    expect(w.get('[data-testid="xtable-range"]').text()).toBe('1–100 of 10,000');
    // The body is as high as all 10,000 rows (the scroll bar is the whole table's), each row placed at its index.
    expect((w.get('tbody').element as HTMLElement).style.height).toBe(`${N * ROW_HEIGHT}px`);
    expect((w.get(`[data-testid="xtable-row-${N - 3}"]`).element as HTMLElement).style.top).toBe(`${3 * ROW_HEIGHT}px`);

    await scrollTo(w, 5_000 * ROW_HEIGHT);
    const later = rowIds(w);
    expect(later).toContain(N - 5_000);
    const at = (w.get(`[data-testid="xtable-row-${N - 5_000}"]`).element as HTMLElement).style.top;
    expect(at).toBe(`${5_000 * ROW_HEIGHT}px`);
    expect(later.length).toBeLessThan(60);
    expect(w.get('[data-testid="xtable-range"]').text()).toBe('5,001–5,100 of 10,000');
    // Pages near the view come from the store, each once; never the whole table.
    const offsets = api.callsTo('runs.list').map((r) => (r as { offset: number }).offset);
    expect(offsets).toContain(5_000);
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(Math.max(...api.callsTo('runs.list').map((r) => (r as { limit: number }).limit))).toBe(100);
    w.unmount();
  });

  it('goes to a page by the pager and back to the top on a new sort', async () => {
    const w = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    await w.get('[data-testid="xtable-next"]').trigger('click');
    await flushPromises();
    const box = w.get('[data-testid="xtable-body"]').element as HTMLElement;
    expect(box.scrollTop).toBe(100 * ROW_HEIGHT);
    box.dispatchEvent(new Event('scroll'));
    await flushPromises();
    expect(rowIds(w)).toContain(N - 100);
    expect(w.get('[data-testid="xtable-page"]').text()).toBe('2 / 100');
    await w.get('[data-testid="xtable-sort-name"]').trigger('click');
    await flushPromises();
    expect(box.scrollTop).toBe(0);
    expect(api.callsTo('runs.list').at(-1)).toMatchObject({ sort: { key: 'name', dir: 'asc' }, offset: 0 });
    w.unmount();
  });

  it('opens where it was left when the view comes back', async () => {
    const w = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    await scrollTo(w, 3_000 * ROW_HEIGHT);
    w.unmount();
    const again = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    expect((again.get('[data-testid="xtable-body"]').element as HTMLElement).scrollTop).toBe(3_000 * ROW_HEIGHT);
    expect(rowIds(again)).toContain(N - 3_000);
    expect(again.get('[data-testid="xtable-range"]').text()).toBe('3,001–3,100 of 10,000');
    again.unmount();
  });

  it('moves between rows by keyboard, selects with Space, and End reaches the last run', async () => {
    const w = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    const row = (id: number) => w.get(`[data-testid="xtable-row-${id}"]`);
    (row(N).element as HTMLElement).focus();
    await row(N).trigger('keydown', { key: 'ArrowDown' });
    await flushPromises();
    expect(document.activeElement?.getAttribute('data-testid')).toBe(`xtable-row-${N - 1}`);
    await row(N - 1).trigger('keydown', { key: ' ' });
    expect(w.get('[data-testid="xtable-selected"]').text()).toBe('1 selected');
    await row(N - 1).trigger('keydown', { key: 'End' });
    await flushPromises();
    // The last page was fetched and its last row rendered and focused.
    expect(api.callsTo('runs.list')).toContainEqual(expect.objectContaining({ offset: 9_900 }));
    expect(document.activeElement?.getAttribute('data-testid')).toBe('xtable-row-1');
    await w.get('[data-testid="xtable-row-1"]').trigger('keydown', { key: 'Enter' });
    expect([route.view, route.id]).toEqual(['monitor', 1]);
    w.unmount();
  });

  it('opens a selection in Compare, and says why not under two runs', async () => {
    const w = mount(ExperimentTable, { attachTo: document.body });
    await flushPromises();
    await w.get(`[data-testid="xtable-select-${N - 2}"]`).setValue(true);
    const btn = w.get('[data-testid="xtable-compare"]');
    expect(btn.attributes('disabled')).toBeDefined();
    expect(btn.attributes('title')).toBe('Select at least two runs to compare them');
    await w.get(`[data-testid="xtable-select-${N}"]`).setValue(true);
    await w.get(`[data-testid="xtable-select-${N - 5}"]`).setValue(true);
    expect(btn.attributes('disabled')).toBeUndefined();
    await btn.trigger('click');
    expect([route.view, route.id, route.query.runs]).toEqual(['compare', null, `${N - 2},${N},${N - 5}`]);
    w.unmount();
  });
});

describe('the table body by keyboard and Compare refusals', () => {
  it('maps keys to a row to focus, open or select, within the table', () => {
    expect(rowKeyAction('ArrowDown', 4, 20, 10)).toEqual({ kind: 'focus', index: 5 });
    expect(rowKeyAction('ArrowDown', 9, 20, 10)).toEqual({ kind: 'focus', index: 9 });
    expect(rowKeyAction('ArrowUp', 0, 20, 10)).toEqual({ kind: 'focus', index: 0 });
    expect(rowKeyAction('PageDown', 0, 20, 100)).toEqual({ kind: 'focus', index: 19 });
    expect(rowKeyAction('PageUp', 50, 20, 100)).toEqual({ kind: 'focus', index: 31 });
    expect(rowKeyAction('End', 3, 20, 100)).toEqual({ kind: 'focus', index: 99 });
    expect(rowKeyAction('Home', 3, 20, 100)).toEqual({ kind: 'focus', index: 0 });
    expect(rowKeyAction('Enter', 3, 20, 100)).toEqual({ kind: 'open' });
    expect(rowKeyAction(' ', 3, 20, 100)).toEqual({ kind: 'select' });
    expect(rowKeyAction('a', 3, 20, 100)).toBeNull();
  });

  it('refuses Compare under two runs and over twenty, naming why', () => {
    expect(compareSelection(0)).toBe('Select at least two runs to compare them');
    expect(compareSelection(1)).toBe('Select at least two runs to compare them');
    expect(compareSelection(2)).toBeNull();
    expect(compareSelection(20)).toBeNull();
    expect(compareSelection(21)).toBe('Compare shows at most 20 runs (21 are selected)');
  });
});
