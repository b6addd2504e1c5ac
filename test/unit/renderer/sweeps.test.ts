// @vitest-environment happy-dom
/**
 * Issue 16 in the app: the grid and results arrangement, the New-sweep form's checks and request, the sweeps
 * store (live cells from run events, one reload per burst, stale replies dropped), and the two views.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { navigate, route } from '../../../src/renderer/src/router';
import { groupResults, orderedCounts, sweepGrid } from '../../../src/renderer/src/sweepGrid';
import { useSweepForm } from '../../../src/renderer/src/composables/sweepForm';
import { RELOAD_COALESCE_MS, useSweepsStore } from '../../../src/renderer/src/stores/sweeps';
import { useRunsStore } from '../../../src/renderer/src/stores/runs';
import { resolveRunConfig } from '../../../src/shared/config';
import {
  statusCounts,
  sweepCells,
  type SweepCell,
  type SweepDetail,
  type SweepRecord,
} from '../../../src/shared/sweep';
import { FakeApi, progressMsg, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

function cell(over: Partial<SweepCell> & Pick<SweepCell, 'index' | 'k' | 'lambda' | 'seed'>): SweepCell {
  return {
    runId: 100 + over.index,
    status: 'queued',
    reason: null,
    step: 0,
    totalSteps: 4,
    lastLoss: null,
    lastCheckpointStep: null,
    slurmRef: null,
    slurmState: null,
    ...over,
  };
}

function sweepRecord(over: Partial<SweepRecord> = {}): SweepRecord {
  return {
    id: 3,
    name: 'grid',
    executor: 'local',
    base: { T: 100 },
    axes: { k: [1, 2], lambda: [0, 1], seeds: [0] },
    maxParallel: null,
    slurm: null,
    jobId: null,
    createdAt: '2026-11-30T20:00:00.000Z',
    ...over,
  };
}

/** A 2 × 2 × 1 sweep: cell i is run 100 + i. */
function detail(statuses: SweepCell['status'][] = ['running', 'queued', 'completed', 'failed']): SweepDetail {
  const cells = sweepCells({ k: [1, 2], lambda: [0, 1], seeds: [0] }).map((c, i) =>
    cell({ ...c, status: statuses[i]!, reason: statuses[i] === 'failed' ? 'out of memory' : null }),
  );
  return { sweep: sweepRecord(), cells };
}

describe('sweep grid and results', () => {
  it('puts K down, λ across and the seeds of one point together, whatever the cell order', () => {
    const cells = sweepCells({ k: [2, 1], lambda: [1, 0], seeds: [1, 0] })
      .map((c) => cell(c))
      .reverse();
    const g = sweepGrid(cells);
    expect(g.ks).toEqual([1, 2]);
    expect(g.lambdas).toEqual([0, 1]);
    expect(g.rows[1]![0]!.map((c) => [c.k, c.lambda, c.seed])).toEqual([
      [2, 0, 0],
      [2, 0, 1],
    ]);
  });

  it('pools the seeds of each (K, λ): mean, sample sd and best of the last loss; runs without one left out', () => {
    const cells = [
      cell({ index: 0, k: 2, lambda: 1, seed: 0, lastLoss: 1, status: 'completed', step: 4 }),
      cell({ index: 1, k: 2, lambda: 1, seed: 1, lastLoss: 3, status: 'running', step: 2 }),
      cell({ index: 2, k: 2, lambda: 1, seed: 2, lastLoss: null }),
      cell({ index: 3, k: 1, lambda: 0, seed: 0, lastLoss: 0.5, status: 'completed', step: 4 }),
    ];
    expect(groupResults(cells)).toEqual([
      { k: 1, lambda: 0, seeds: 1, completed: 1, meanLoss: 0.5, sdLoss: null, minLoss: 0.5, step: 4, totalSteps: 4 },
      { k: 2, lambda: 1, seeds: 3, completed: 1, meanLoss: 2, sdLoss: Math.SQRT2, minLoss: 1, step: 6, totalSteps: 12 },
    ]);
  });

  it('orders status counts for badges and leaves zeros out', () => {
    expect(orderedCounts({ completed: 2, queued: 0, running: 1, deleted: 1 })).toEqual([
      { status: 'running', n: 1 },
      { status: 'completed', n: 2 },
      { status: 'deleted', n: 1 },
    ]);
  });
});

describe('New-sweep form', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    setApi(
      new FakeApi().handle('runs.validate', ({ config }) => ({
        ok: true,
        errors: [],
        config: resolveRunConfig(config),
        estimate: null,
      })),
    );
  });

  it('names the axis and the value that is wrong', () => {
    const f = useSweepForm({ debounceMs: 0 });
    f.reset();
    f.set('k', '1, x');
    f.set('lambda', '0, 0');
    f.set('seeds', '1.5');
    expect(f.errors.value.k).toBe("K values: 'x' is not a whole number (in '1, x')");
    expect(f.errors.value.lambda).toBe('λ values: values must differ');
    expect(f.errors.value.seeds).toBe("seeds: '1.5' is not a whole number (in '1.5')");
    expect(f.cellCount.value).toBeNull();
    f.set('k', '0, 1');
    expect(f.errors.value.k).toMatch(/^K values: .*1/);
    f.set('k', '1, 2, 3');
    f.set('lambda', '0, 0.5');
    f.set('seeds', '0, 1');
    expect(f.errors.value).toEqual({});
    expect(f.cellCount.value).toBe(12);
    f.set('seeds', Array.from({ length: 200 }, (_, i) => i).join(','));
    expect(f.errors.value.seeds).toBe('1200 runs is more than the 1000 a sweep may hold');
  });

  it('checks the Slurm fields only for Slurm, and asks for the cluster folder with ssh', () => {
    const f = useSweepForm({ debounceMs: 0 });
    f.reset();
    f.set('slurm.time', 'two hours');
    f.set('slurm.gpus', '1.5');
    expect(f.errors.value).toEqual({});
    f.set('executor', 'slurm');
    expect(f.errors.value['slurm.time']).toBe('a Slurm time such as 02:00:00 or 1-12:00');
    expect(f.errors.value['slurm.gpus']).toBe("a whole number, got '1.5'");
    f.set('slurm.time', '01:30:00');
    f.set('slurm.gpus', '2');
    f.set('slurm.ssh', 'cluster');
    expect(f.errors.value).toEqual({
      'slurm.remoteDir': 'required with ssh: a folder on the cluster that its compute nodes share',
    });
    f.set('slurm.remoteDir', 'scratch/me');
    expect(f.errors.value['slurm.remoteDir']).toBe('an absolute path');
    f.set('slurm.remoteDir', '/scratch/me');
    f.set('slurm.sadpm', ' node  /opt/sadpm/bin/sadpm.mjs ');
    f.set('maxParallel', '0');
    expect(f.errors.value).toEqual({ maxParallel: "a whole number from 1 to 1000, got '0'" });
    f.set('maxParallel', '2');
    expect(f.request().slurm).toEqual({
      time: '01:30:00',
      gpus: 2,
      ssh: 'cluster',
      remoteDir: '/scratch/me',
      sadpm: ['node', '/opt/sadpm/bin/sadpm.mjs'],
    });
    expect(() => f.set('slurm.password', 'x')).toThrow("no sweep field 'slurm.password'");
  });

  it('sends the base config without the swept fields, and no Slurm options for a local sweep', () => {
    const f = useSweepForm({ debounceMs: 0 });
    f.reset();
    f.base.setField('T', '100');
    f.base.setField('steps', '4');
    f.set('slurm.partition', 'gpu');
    f.set('name', 'tiny');
    f.set('k', '2');
    f.set('lambda', '0, 1');
    f.base.tags.value = 'a, b, a';
    const req = f.request();
    expect(req).toMatchObject({
      name: 'tiny',
      axes: { k: [2], lambda: [0, 1], seeds: [0] },
      executor: 'local',
      slurm: undefined,
      maxParallel: undefined,
      tags: ['a', 'b'],
    });
    expect(req.base).toMatchObject({ T: 100, steps: 4, dataset: 'builtin:shapes' });
    for (const k of ['k', 'lambda', 'seed', 'name']) expect(req.base).not.toHaveProperty(k);
    f.set('name', 'has space');
    expect(f.errors.value.name).toMatch(/letters, digits/);
  });
});

describe('sweeps store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeApi()
      .handle('sweeps.list', () => [{ sweep: sweepRecord(), counts: statusCounts(detail().cells), cells: 4 }])
      .handle('sweeps.get', () => detail());
    setApi(api);
  });
  afterEach(() => vi.useRealTimers());

  it('keeps the shown grid live from run events, and reloads once per burst', async () => {
    vi.useFakeTimers();
    const st = useSweepsStore();
    st.subscribe();
    await st.loadList();
    await st.show(3);
    const cellOf = (runId: number) => st.detail!.cells.find((c) => c.runId === runId)!;
    api.emit('run.message', { runId: 101, msg: { ...progressMsg(3, 0.25), totalSteps: 4 } });
    expect(cellOf(101)).toMatchObject({ step: 3, totalSteps: 4, lastLoss: 0.25 });
    api.emit('run.updated', runRecord({ id: 100, status: 'completed', step: 4, totalSteps: 4, lastLoss: 0.2 }));
    api.emit('run.updated', runRecord({ id: 101, status: 'stopped', failureReason: 'stopped by the user' }));
    api.emit('run.updated', runRecord({ id: 999, status: 'running' }));
    expect(cellOf(100)).toMatchObject({ status: 'completed', step: 4, lastLoss: 0.2 });
    expect(cellOf(101)).toMatchObject({ status: 'stopped', reason: 'stopped by the user' });
    const before = api.calls.length;
    await vi.advanceTimersByTimeAsync(RELOAD_COALESCE_MS);
    const later = api.calls
      .slice(before)
      .map((c) => c.channel)
      .filter((c) => c.startsWith('sweeps.'));
    expect(later.sort()).toEqual(['sweeps.get', 'sweeps.list']);
  });

  it('drops a grid that arrives after another sweep was chosen', async () => {
    let release!: () => void;
    api.handle('sweeps.get', async ({ id }) => {
      if (id === 3) await new Promise<void>((r) => (release = r));
      return { ...detail(), sweep: sweepRecord({ id }) };
    });
    const st = useSweepsStore();
    const slow = st.show(3);
    await st.show(4);
    release();
    await slow;
    expect(st.detail!.sweep.id).toBe(4);
  });
});

let SweepsView: Component;
let NewSweepView: Component;
beforeAll(async () => {
  SweepsView = await loadSfc('src/renderer/src/views/SweepsView.vue');
  NewSweepView = await loadSfc('src/renderer/src/views/NewSweepView.vue');
});

describe('Sweeps view', () => {
  let api: FakeApi;
  let current: SweepDetail;
  beforeEach(() => {
    setActivePinia(createPinia());
    current = detail();
    api = new FakeApi()
      .handle('sweeps.list', () => [{ sweep: current.sweep, counts: statusCounts(current.cells), cells: 4 }])
      .handle('sweeps.get', () => current)
      .handle('sweeps.cancel', () => {
        current = {
          ...current,
          cells: current.cells.map((c) =>
            c.status === 'running' || c.status === 'queued' ? { ...c, status: 'stopped' } : c,
          ),
        };
        return current;
      });
    setApi(api);
  });

  it('lists sweeps with counts, shows the grid linked to each run, cancels after a confirmation', async () => {
    navigate('sweeps', 3);
    const w = mount(SweepsView);
    await flushPromises();
    const badges = (testid: string) =>
      w
        .get(`[data-testid="${testid}"]`)
        .findAll('.badge')
        .map((b) => b.text());
    expect(badges('sweep-counts-3')).toEqual(['1 running', '1 queued', '1 completed', '1 failed']);
    const grid = w.get('[data-testid="sweep-grid"]');
    expect(grid.findAll('thead th').map((t) => t.text())).toEqual(['K \\ λ', 'λ = 0', 'λ = 1']);
    expect(grid.findAll('tbody th').map((t) => t.text())).toEqual(['K = 1', 'K = 2']);
    // Cell 2 is K = 2, λ = 0: second row, first column.
    const row2 = grid.findAll('tbody tr')[1]!;
    expect(row2.findAll('td')[0]!.find('[data-testid="sweep-cell-2"]').exists()).toBe(true);
    expect(w.get('[data-testid="sweep-cell-link-2"]').attributes('href')).toBe('#/monitor/102');
    expect(w.get('[data-testid="sweep-cell-status-3"]').text()).toBe('failed');
    expect(w.get('[data-testid="sweep-cell-3"]').text()).toContain('out of memory');
    expect(w.get('[data-testid="sweep-result-2-0"]').text()).toContain('1');

    await w.get('[data-testid="sweep-cancel"]').trigger('click');
    expect(api.callsTo('sweeps.cancel')).toEqual([]);
    await w.get('[data-testid="sweep-cancel-confirm"]').trigger('click');
    await flushPromises();
    expect(api.callsTo('sweeps.cancel')).toEqual([{ id: 3 }]);
    expect(badges('sweep-counts')).toEqual(['1 completed', '1 failed', '2 stopped']);
    // Nothing is left to cancel.
    expect(w.get('[data-testid="sweep-cancel"]').attributes('disabled')).toBeDefined();

    // Its runs in the experiment table: the Runs view filtered by the sweep's tag, nothing else.
    const runs = useRunsStore();
    runs.text = 'old search';
    runs.statuses = ['failed'];
    await w.get('[data-testid="sweep-show-runs"]').trigger('click');
    expect(route.view).toBe('runs');
    expect([runs.tags, runs.statuses, runs.text]).toEqual([['sweep-3'], [], '']);
    w.unmount();
  });

  it('says how to start when there is no sweep, and opens a sweep from the list', async () => {
    api.handle('sweeps.list', () => []);
    navigate('sweeps');
    const w = mount(SweepsView);
    await flushPromises();
    expect(w.get('[data-testid="sweeps-empty"]').text()).toContain('sadpm sweep');
    api.handle('sweeps.list', () => [{ sweep: current.sweep, counts: {}, cells: 4 }]);
    await useSweepsStore().loadList();
    await flushPromises();
    await w.get('[data-testid="sweep-row-3"]').trigger('click');
    await flushPromises();
    expect(route).toMatchObject({ view: 'sweeps', id: 3 });
    expect(w.get('[data-testid="sweep-title"]').text()).toBe('#3 grid');
    w.unmount();
  });
});

describe('New-sweep view', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    navigate('new-sweep');
    api = new FakeApi()
      .handle('runs.validate', ({ config }) => ({
        ok: true,
        errors: [],
        config: resolveRunConfig(config),
        estimate: null,
      }))
      .handle('datasets.list', () => [])
      .handle('sweeps.list', () => [])
      .handle('sweeps.create', (req) => ({ ...detail(), sweep: sweepRecord({ id: 7, name: String(req.name) }) }));
    setApi(api);
  });

  it('creates the sweep from the preset, the lists and the executor, then opens it', async () => {
    const w = mount(NewSweepView, { props: { debounceMs: 0 } });
    await flushPromises();
    expect(w.find('[data-testid="field-k"]').exists()).toBe(false);
    expect(w.find('[data-testid="field-seed"]').exists()).toBe(false);
    expect(w.find('[data-testid="sweep-slurm"]').exists()).toBe(false);
    await w.get('[data-testid="field-T"]').setValue('100');
    await w.get('[data-testid="field-gapT0"]').setValue('50');
    await w.get('[data-testid="field-steps"]').setValue('4');
    await w.get('[data-testid="sweep-k"]').setValue('1,2');
    await w.get('[data-testid="sweep-lambda"]').setValue('0, 0.5, 1');
    await w.get('[data-testid="sweep-seeds"]').setValue('0,1');
    await w.get('[data-testid="sweep-name"]').setValue('tiny');
    await flushPromises();
    expect(w.get('[data-testid="sweep-cell-count"]').text()).toContain('12 runs');

    await w.get('[data-testid="sweep-executor-slurm"]').setValue(true);
    await w.get('[data-testid="slurm-time"]').setValue('soon');
    expect(w.get('[data-testid="slurm-error-time"]').text()).toContain('a Slurm time');
    const disabled = () => (w.get('[data-testid="sweep-create"]').element as HTMLButtonElement).disabled;
    expect(disabled()).toBe(true);
    await w.get('[data-testid="sweep-executor-local"]').setValue(true);
    expect(disabled()).toBe(false);

    await w.get('[data-testid="sweep-create"]').trigger('click');
    await flushPromises();
    const [req] = api.callsTo('sweeps.create') as Record<string, unknown>[];
    expect(req).toMatchObject({
      name: 'tiny',
      executor: 'local',
      axes: { k: [1, 2], lambda: [0, 0.5, 1], seeds: [0, 1] },
    });
    expect(req!.base).toMatchObject({ T: 100, steps: 4 });
    expect(route).toMatchObject({ view: 'sweeps', id: 7 });
    w.unmount();
  });

  it("shows the server's refusal", async () => {
    api.handle('sweeps.create', () => {
      throw Object.assign(new Error('cell k=2 λ=1 seed=0: K must be at most T'), { code: 'invalid' });
    });
    const w = mount(NewSweepView, { props: { debounceMs: 0 } });
    await flushPromises();
    await w.get('[data-testid="sweep-create"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="sweep-submit-error"]').text()).toContain('K must be at most T');
    expect(route.view).toBe('new-sweep');
    w.unmount();
  });
});
