// @vitest-environment happy-dom
/**
 * Issue 12/15 in the Gallery: the "Over training" tab shows one column per checkpoint at once (cached columns as
 * images, the others as gaps), EMA/raw switches the columns, Sample runs the strip job and shows its columns;
 * the filmstrip's x̂0 toggle asks for the second row.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { navigate } from '../../../src/renderer/src/router';
import type { CheckpointRecord } from '../../../src/shared/records';
import type { StripColumn, StripSettings } from '../../../src/shared/strip';
import { resolveRunConfig } from '../../../src/shared/config';
import { FakeApi, runRecord, sampleRecord } from './fakeApi';
import { loadSfc } from './sfc';

let GalleryView: Component;
beforeAll(async () => {
  GalleryView = await loadSfc('src/renderer/src/views/GalleryView.vue');
});

const ck = (id: number, step: number): CheckpointRecord => ({
  id,
  runId: 3,
  step,
  kind: 'full',
  path: `/r/ck${step}`,
  bytes: 1,
  metrics: {},
  createdAt: '',
});
const col = (c: CheckpointRecord, sampled: boolean, ema = true): StripColumn => ({
  checkpointId: c.id,
  step: c.step,
  sample: sampled ? sampleRecord({ id: c.id, step: c.step, ema, path: `/r/col${c.step}-${ema}.png` }) : null,
  skipped: null,
});

describe('Gallery: the strip over training and the filmstrip x̂0 row', () => {
  let api: FakeApi;
  const cks = [ck(10, 100), ck(11, 200), ck(12, 300)];
  beforeEach(() => {
    setActivePinia(createPinia());
    const run = runRecord({ id: 3, status: 'completed', config: resolveRunConfig({ sampleSteps: 20 }) });
    api = new FakeApi()
      .handle('runs.list', () => ({ runs: [run], total: 1 }))
      .handle('runs.get', () => ({
        run,
        checkpoints: cks,
        samples: [],
        metricNames: [],
        disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
        retention: null,
        active: false,
        queuePosition: null,
      }))
      .handle('samples.list', () => [])
      // EMA: the first two checkpoints are cached; raw: none.
      .handle('samples.stripPlan', ({ settings }) => ({
        columns: cks.map((c, i) => col(c, settings.ema !== false && i < 2, settings.ema !== false)),
      }))
      .handle('samples.strip', () => ({ jobId: 'st1' }))
      .handle('samples.filmstrip', () => ({ jobId: 'f1' }));
    setApi(api);
    navigate('gallery', 3);
  });

  it('shows cached columns at once, labelled with their steps; EMA/raw switches them; Sample fills the gaps', async () => {
    const w = mount(GalleryView);
    await flushPromises();
    expect(api.callsTo('samples.stripPlan')).toEqual([]);
    await w.get('[data-testid="gallery-tab-strip"]').trigger('click');
    await flushPromises();
    const plans = () => api.callsTo('samples.stripPlan') as { runId: number; settings: StripSettings }[];
    expect(plans().at(-1)).toEqual({
      runId: 3,
      settings: { n: 8, sampler: 'ddim', steps: 20, spacing: 'uniform', eta: 0, seed: 0, ema: true, every: 1 },
    });
    const state = () => cks.map((c) => w.get(`[data-testid="strip-col-${c.step}"]`).attributes('data-state'));
    expect(state()).toEqual(['sampled', 'sampled', 'missing']);
    expect(w.get('[data-testid="strip-col-200"]').text()).toContain('step 200');
    await flushPromises();
    expect(w.get('[data-testid="strip-img-100"]').attributes('src')).toContain(
      encodeURIComponent('/r/col100-true.png'),
    );
    expect(w.get('[data-testid="strip-sample"]').text()).toBe('Sample 1 checkpoint');
    expect(w.get('[data-testid="strip-counts"]').text()).toContain('2 of 3 checkpoints already sampled');

    await w.get('[data-testid="strip-weights-raw"]').trigger('click');
    await flushPromises();
    expect(plans().at(-1)!.settings.ema).toBe(false);
    expect(state()).toEqual(['missing', 'missing', 'missing']);
    expect(w.get('[data-testid="strip-sample"]').text()).toBe('Sample 3 checkpoints');

    // Every 2nd checkpoint, then a value the server would refuse: said here, nothing asked.
    await w.get('[data-testid="strip-every"]').setValue('2');
    await flushPromises();
    expect(plans().at(-1)!.settings.every).toBe(2);
    const asked = plans().length;
    await w.get('[data-testid="strip-n"]').setValue('65');
    await flushPromises();
    expect(w.get('[data-testid="strip-invalid"]').text()).toBe('Noise images: 1 to 64');
    expect(w.get('[data-testid="strip-sample"]').attributes('disabled')).toBeDefined();
    expect(plans()).toHaveLength(asked);
    await w.get('[data-testid="strip-n"]').setValue('4');
    await w.get('[data-testid="strip-every"]').setValue('1');
    await flushPromises();

    await w.get('[data-testid="strip-sample"]').trigger('click');
    await flushPromises();
    expect(api.callsTo('samples.strip')).toEqual([
      {
        runId: 3,
        settings: { n: 4, sampler: 'ddim', steps: 20, spacing: 'uniform', eta: 0, seed: 0, ema: false, every: 1 },
      },
    ]);
    expect(w.find('[data-testid="strip-job"]').exists()).toBe(true);
    const result = { path: '/r/strip.png', sidecar: '/r/strip.json', sampled: [100, 200, 300] };
    api.emit('job.done', {
      jobId: 'st1',
      kind: 'strip',
      ok: true,
      result: { ...result, columns: cks.map((c) => col(c, true, false)) },
    });
    await flushPromises();
    expect(state()).toEqual(['sampled', 'sampled', 'sampled']);
    expect(w.get('[data-testid="strip-path"]').text()).toBe('Strip PNG: /r/strip.png');
    expect(w.get('[data-testid="strip-sample"]').text()).toBe('Write the strip PNG');
    w.unmount();
  });

  it('the filmstrip asks for the x̂0 row when the toggle is on, and says what its rows show', async () => {
    const w = mount(GalleryView);
    await flushPromises();
    await w.get('[data-testid="filmstrip-x0"]').setValue(true);
    await w.get('[data-testid="gallery-filmstrip"]').trigger('click');
    await flushPromises();
    expect(api.callsTo('samples.filmstrip')).toMatchObject([{ checkpointId: 12, frames: 10, x0: true }]);
    const film = sampleRecord({ id: 9, path: '/r/film.png', n: 22 });
    api.emit('job.done', { jobId: 'f1', kind: 'filmstrip', ok: true, result: film });
    await flushPromises();
    expect(w.get('[data-testid="filmstrip-caption"]').text()).toBe(
      'x_t from noise (left) to the sample (right), each frame labelled with its t; below each x_t, the x̂0 predicted from it',
    );
    w.unmount();
  });
});
