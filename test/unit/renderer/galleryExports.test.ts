// @vitest-environment happy-dom
/** The gallery and export stores: what their views used to load and call themselves. */
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { flushPromises } from '@vue/test-utils';
import { setApi } from '../../../src/renderer/src/api';
import { useGalleryStore } from '../../../src/renderer/src/stores/gallery';
import { useExportsStore } from '../../../src/renderer/src/stores/exports';
import { useRunsStore } from '../../../src/renderer/src/stores/runs';
import type { CheckpointRecord, SampleRecord } from '../../../src/shared/records';
import type { RunDetail } from '../../../src/shared/contract';
import { FakeApi, runRecord, sampleRecord } from './fakeApi';
import { resolveRunConfig } from '../../../src/shared/config';

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
const sample = (over: Partial<SampleRecord>): SampleRecord => ({
  id: 1,
  runId: 3,
  checkpointId: 11,
  step: 8,
  sampler: 'ddim',
  sampleSteps: 20,
  spacing: 'uniform',
  eta: 0,
  seed: 0,
  n: 9,
  ema: true,
  path: '/r/s1.png',
  createdAt: '',
  ...over,
});

describe('gallery store', () => {
  let api: FakeApi;
  let samples: SampleRecord[];
  let detail: RunDetail;
  beforeEach(() => {
    setActivePinia(createPinia());
    samples = [sample({ id: 1, step: 4, checkpointId: 10, path: '/r/a.png' }), sample({ id: 2 })];
    detail = {
      run: runRecord({
        id: 3,
        status: 'completed',
        config: resolveRunConfig({ sampler: 'ddim', sampleSteps: 20, sampleN: 9 }),
      }),
      checkpoints: [ck(10, 4), ck(11, 8)],
      samples: [],
      metricNames: [],
      disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
      retention: null,
      active: false,
      queuePosition: null,
    };
    api = new FakeApi()
      .handle('runs.list', () => ({ runs: [detail.run], total: 1 }))
      .handle('runs.get', () => detail)
      .handle('samples.list', () => samples)
      .handle('samples.generate', () => ({ jobId: 'g1' }));
    setApi(api);
  });

  it('opens a run: settings from its config, the newest checkpoint, grids by step, newest first', async () => {
    const g = useGalleryStore();
    await g.open(3);
    expect([g.settings.sampler, g.settings.steps, g.settings.n]).toEqual(['ddim', 20, 9]);
    expect(g.checkpointId).toBe(11);
    expect(g.groups.map(([step, list]) => [step, list.map((s) => s.id)])).toEqual([
      [8, [2]],
      [4, [1]],
    ]);
    // Settings that match a stored grid show it without sampling.
    expect(g.existing?.id).toBe(2);
    await g.sample();
    expect(api.callsTo('samples.generate')).toEqual([]);
    const label = 'step 8 · DDIM 20 steps · uniform · η 0 · seed 0 · EMA · n 9';
    expect(g.shown).toEqual({ path: '/r/s1.png', label });
  });

  it('samples on demand through a job, shows the result, and lists grids the training loop adds', async () => {
    const g = useGalleryStore();
    await g.open(3);
    g.settings = { ...g.settings, seed: 5 };
    const done = g.sample();
    await flushPromises();
    expect(api.callsTo('samples.generate')).toEqual([{ checkpointId: 11, settings: { ...g.settings } }]);
    samples = [...samples, sample({ id: 3, seed: 5, path: '/r/s3.png' })];
    api.emit('job.done', { jobId: 'g1', kind: 'sample', ok: true, result: samples[2] });
    await done;
    expect(g.shown?.path).toBe('/r/s3.png');
    expect(g.samples.map((s) => s.id)).toEqual([3, 2, 1]);
    // A grid recorded by training changes the run's detail: the list follows.
    samples = [...samples, sample({ id: 4, path: '/r/s4.png' })];
    useRunsStore().subscribe();
    detail = { ...detail, samples: [samples[3]!] };
    const msg = { type: 'samples' as const, step: 8, path: '/r/s4.png', n: 9, sampler: 'ddim', sampleSteps: 20 };
    api.emit('run.message', { runId: 3, msg: { ...msg, ema: true } });
    await flushPromises();
    expect(g.samples.map((s) => s.id)).toEqual([4, 3, 2, 1]);
  });
});

describe('exports store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    const detail: RunDetail = {
      run: runRecord({ id: 3, status: 'completed' }),
      checkpoints: [ck(10, 4), ck(11, 8)],
      samples: [],
      metricNames: [],
      disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
      retention: null,
      active: false,
      queuePosition: null,
    };
    api = new FakeApi()
      .handle('runs.list', () => ({ runs: [detail.run], total: 1 }))
      .handle('runs.get', () => detail)
      .handle('export.grid', () => ({ jobId: 'e1' }))
      .handle('export.metrics', ({ format }) => ({ path: `/d/exports/m.${format}`, bytes: 12 }));
    setApi(api);
  });

  it('checks the layout, exports rows × columns images from the newest checkpoint, and the metrics', async () => {
    const ex = useExportsStore();
    await ex.open(3);
    expect(ex.grid.checkpointId).toBe(11);
    Object.assign(ex.grid, { rows: 20, cols: 20 });
    expect(ex.gridInvalid).toBe('rows × columns = 400; at most 256 images per grid.');
    Object.assign(ex.grid, { rows: 2, cols: 3, padding: 40 });
    expect(ex.gridInvalid).toBe('Padding must be between 0 and 32 px.');
    ex.grid.padding = 3;
    const done = ex.exportGrid();
    await flushPromises();
    type GridReq = { checkpointId: number; settings: { n: number }; cols: number; padding: number };
    const req = api.callsTo('export.grid')[0] as GridReq;
    expect([req.checkpointId, req.settings.n, req.cols, req.padding]).toEqual([11, 6, 3, 3]);
    api.emit('job.done', {
      jobId: 'e1',
      kind: 'export',
      ok: true,
      result: { path: '/d/exports/g.png', sidecar: '/d/exports/g.json', bytes: 5, sample: sampleRecord() },
    });
    await done;
    expect(ex.gridPath).toBe('/d/exports/g.png');
    ex.metricsFormat = 'json';
    await ex.exportMetrics();
    expect(ex.metricsOut).toEqual({ path: '/d/exports/m.json', bytes: 12 });
    // Another run: what was written for this one is no longer shown.
    await ex.open(3);
    expect([ex.gridPath, ex.metricsOut]).toEqual([null, null]);
  });

  it('downloads a written file from its URL under its own name', async () => {
    const ex = useExportsStore();
    const clicked: { href: string; download: string }[] = [];
    const orig = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      clicked.push({ href: this.getAttribute('href')!, download: this.download });
    };
    try {
      await ex.download('/d/exports/run 1.tar.gz');
    } finally {
      HTMLAnchorElement.prototype.click = orig;
    }
    expect(clicked).toEqual([{ href: '/files?path=%2Fd%2Fexports%2Frun+1.tar.gz', download: 'run 1.tar.gz' }]);
    expect(ex.downloadError).toBeNull();
    expect(document.querySelectorAll('a[download]')).toHaveLength(0);
  });
});
