// @vitest-environment happy-dom
/**
 * The Compare view as a user drives it: Steps and Images changed in the form must be the settings
 * each pane is sampled with, and sampling again after a change must apply the new settings.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import type { CheckpointRecord, SampleRecord } from '../../../src/shared/records';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let CompareView: Component;
beforeAll(async () => {
  CompareView = await loadSfc('src/renderer/src/views/CompareView.vue');
});

const checkpoints: CheckpointRecord[] = [
  { id: 10, runId: 1, step: 4, kind: 'full', path: '/r/ck4', bytes: 1, metrics: {}, createdAt: '' },
  { id: 11, runId: 1, step: 12, kind: 'full', path: '/r/ck12', bytes: 1, metrics: {}, createdAt: '' },
];

describe('Compare view', () => {
  let api: FakeApi;
  let job = 0;
  beforeEach(() => {
    setActivePinia(createPinia());
    job = 0;
    api = new FakeApi()
      .handle('runs.list', () => ({ runs: [runRecord({ id: 1, name: 'e2e', status: 'completed' })], total: 1 }))
      .handle('runs.get', ({ id }) => ({
        run: runRecord({ id, name: 'e2e', status: 'completed' }),
        checkpoints,
        samples: [],
        metricNames: [],
        disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
        retention: null,
        active: false,
        queuePosition: null,
      }))
      .handle('samples.list', () => [])
      .handle('samples.generate', () => ({ jobId: `s${++job}` }))
      .handle('metrics.overlay', () => [])
      .handle('gap.list', () => []);
    setApi(api);
  });

  async function finishJobs(from: number): Promise<void> {
    await flushPromises();
    for (let i = from + 1; i <= job; i++) {
      const req = api.callsTo('samples.generate')[i - 1] as {
        checkpointId: number;
        settings: { steps: number; n: number };
      };
      const s: SampleRecord = {
        id: i,
        runId: 1,
        checkpointId: req.checkpointId,
        step: req.checkpointId === 10 ? 4 : 12,
        sampler: 'ddim',
        sampleSteps: req.settings.steps,
        spacing: 'uniform',
        eta: 0,
        seed: 0,
        n: req.settings.n,
        ema: true,
        path: `/r/s${i}.png`,
        createdAt: '',
      };
      api.emit('job.done', { jobId: `s${i}`, kind: 'sample', ok: true, result: s });
    }
    await flushPromises();
  }

  it('samples with the Steps and Images the form shows, and sampling again applies a change', async () => {
    const w = mount(CompareView, { global: { stubs: { MetricChart: true, GapCurveChart: true } } });
    await flushPromises();
    await w.get('[data-testid="compare-run"]').setValue('1');
    await flushPromises();
    await w.get('[data-testid="compare-checkpoint"]').setValue('10');
    await w.get('[data-testid="compare-add"]').trigger('click');
    await w.get('[data-testid="compare-checkpoint"]').setValue('11');
    await w.get('[data-testid="compare-add"]').trigger('click');

    await w.get('[data-testid="compare-steps"]').setValue('5');
    await w.get('[data-testid="compare-n"]').setValue('4');
    await w.get('[data-testid="compare-sample"]').trigger('click');
    await finishJobs(0);
    const first = api.callsTo('samples.generate') as { settings: { steps: number; n: number; sampler: string } }[];
    expect(first).toHaveLength(2);
    for (const r of first) expect([r.settings.sampler, r.settings.steps, r.settings.n]).toEqual(['ddim', 5, 4]);
    expect(w.text()).not.toContain('Settings changed');
    expect(w.get('[data-testid="compare-pane-0"]').text()).toContain('DDIM 5 steps');
    expect(w.get('[data-testid="compare-pane-0"]').text()).toContain('n 4');

    // Change Steps: the warning shows; sampling again uses 7 steps and clears it.
    await w.get('[data-testid="compare-steps"]').setValue('7');
    expect(w.text()).toContain('Settings changed');
    await w.get('[data-testid="compare-sample"]').trigger('click');
    await finishJobs(2);
    const again = (api.callsTo('samples.generate') as { settings: { steps: number; n: number } }[]).slice(2);
    expect(again.map((r) => [r.settings.steps, r.settings.n])).toEqual([
      [7, 4],
      [7, 4],
    ]);
    expect(w.text()).not.toContain('Settings changed');
    expect(w.get('[data-testid="compare-pane-1"]').text()).toContain('DDIM 7 steps');
    w.unmount();
  });
});
