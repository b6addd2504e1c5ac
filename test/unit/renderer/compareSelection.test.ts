// @vitest-environment happy-dom
/**
 * Compare opened with the experiment table's selection (issue 15, `#/compare?runs=…`): the latest checkpoints of
 * the first two selected runs that have one side by side, the curves of every selected run, and a note for a run
 * that has no checkpoint or is gone.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { navigate } from '../../../src/renderer/src/router';
import type { CheckpointRecord } from '../../../src/shared/records';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let CompareView: Component;
beforeAll(async () => {
  CompareView = await loadSfc('src/renderer/src/views/CompareView.vue');
});

const ck = (id: number, runId: number, step: number): CheckpointRecord => ({
  id,
  runId,
  step,
  kind: 'full',
  path: `/r${runId}/ck${step}`,
  bytes: 1,
  metrics: {},
  createdAt: '',
});
/** Run 3 has no checkpoint; run 9 does not exist. */
const CHECKPOINTS: Record<number, CheckpointRecord[]> = {
  1: [ck(10, 1, 100), ck(11, 1, 300), ck(12, 1, 200)],
  2: [ck(20, 2, 50)],
  3: [],
  4: [ck(40, 4, 70)],
};

describe('Compare from a selection', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeApi()
      .handle('runs.get', ({ id }) => {
        if (!CHECKPOINTS[id]) throw Object.assign(new Error(`no run ${id}`), { code: 'not_found' });
        return {
          run: runRecord({ id, name: `run-${id}`, status: 'completed' }),
          checkpoints: CHECKPOINTS[id],
          samples: [],
          metricNames: [],
          disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
          retention: null,
          active: false,
          queuePosition: null,
        };
      })
      .handle('runs.list', () => ({ runs: [], total: 0 }))
      .handle('metrics.overlay', ({ runIds }) =>
        runIds.map((runId) => ({ runId, series: { name: 'loss', steps: [], values: [], total: 0 } })),
      )
      .handle('gap.list', () => []);
    setApi(api);
  });

  it('puts the first two runs with a checkpoint in the panes and every run in the curves', async () => {
    navigate('compare', null, { runs: '3,1,9,4,2' });
    const w = mount(CompareView, { global: { stubs: { MetricChart: true, GapCurveChart: true } } });
    await flushPromises();
    // Run 3 has no checkpoint: runs 1 (its latest, step 300) and 4 take the panes; run 2 is in the curves only.
    expect(w.findAll('[data-testid^="compare-chip-"]').map((c) => c.text().replace(/\s*×$/, ''))).toEqual([
      'run-1 @ 300',
      'run-4 @ 70',
    ]);
    expect(w.findAll('[data-testid^="compare-run-chip-"]').map((c) => c.attributes('data-testid'))).toEqual([
      'compare-run-chip-3',
      'compare-run-chip-2',
    ]);
    expect(api.callsTo('metrics.overlay').at(-1)).toMatchObject({ runIds: [1, 4, 3, 2] });
    const notes = w.get('[data-testid="compare-open-notes"]').text();
    expect(notes).toContain('#3 run-3 has no checkpoint yet: its curves only');
    expect(notes).toContain('run #9: no run 9');
    // The picker shows the first pane's run and its checkpoints, to add more of them.
    expect((w.get('[data-testid="compare-run"]').element as HTMLSelectElement).value).toBe('1');
    expect(w.findAll('[data-testid="compare-checkpoint"] option').map((o) => o.text())).toEqual([
      'step 300',
      'step 200',
      'step 100',
    ]);
    // A run taken out leaves the curves.
    await w.get('[data-testid="compare-run-chip-2"] button').trigger('click');
    await flushPromises();
    expect(api.callsTo('metrics.overlay').at(-1)).toMatchObject({ runIds: [1, 4, 3] });
    w.unmount();
  });
});
