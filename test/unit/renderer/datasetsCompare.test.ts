// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../../src/renderer/src/api';
import { useDatasetsStore } from '../../../src/renderer/src/stores/datasets';
import { useCompareStore } from '../../../src/renderer/src/stores/compare';
import type { DatasetRecord, SampleRecord } from '../../../src/shared/records';
import { FakeApi } from './fakeApi';

const tick = () => new Promise((r) => setTimeout(r, 0));

const dataset: DatasetRecord = {
  id: 4,
  name: 'shapes',
  source: 'builtin:shapes',
  format: 'builtin',
  count: 256,
  height: 16,
  width: 16,
  channels: 3,
  checksum: 'abc',
  path: '/d/shapes.sadpm-ds',
  previewPath: '/d/shapes.png',
  bytes: 1000,
  classCounts: [88, 89, 79],
  classNames: ['circle', 'square', 'triangle'],
  good: 256,
  skipped: [],
  createdAt: '2026-01-01T00:00:00Z',
};

describe('datasets store', () => {
  it('imports through a job, then refreshes the library with the outcome', async () => {
    setActivePinia(createPinia());
    let listed: DatasetRecord[] = [];
    const api = new FakeApi().handle('datasets.import', () => ({ jobId: 'imp' })).handle('datasets.list', () => listed);
    setApi(api);
    const ds = useDatasetsStore();
    const h = ds.startImport({ input: 'builtin:shapes', format: 'builtin', limit: 256 });
    await tick();
    api.emit('job.progress', { jobId: 'imp', done: 128, total: 256 });
    expect(h.job.done).toBe(128);
    listed = [dataset];
    api.emit('job.done', {
      jobId: 'imp',
      kind: 'import',
      ok: true,
      result: {
        dataset,
        duplicate: false,
        report: { good: 256, skipped: [{ file: 'x.png', reason: 'not an image' }], classCounts: [88, 89, 79] },
      },
    });
    const outcome = await h.result;
    expect(outcome.report.skipped[0]!.reason).toBe('not an image');
    expect(ds.list).toEqual([dataset]);
    expect(ds.lastImport?.outcome?.dataset.id).toBe(4);
    expect(api.callsTo('datasets.import')).toEqual([{ input: 'builtin:shapes', format: 'builtin', limit: 256 }]);
  });
});

describe('datasets store upload (web mode)', () => {
  it('sends the file in order in chunks with byte progress, and discards the server part when a chunk fails', async () => {
    setActivePinia(createPinia());
    const got: string[] = [];
    let failAt = -1;
    const api = new FakeApi()
      .handle('files.uploadBegin', ({ bytes }) => ({ uploadId: `u${bytes}` }))
      .handle('files.uploadChunk', ({ offset, base64 }) => {
        if (offset === failAt) throw Object.assign(new Error('disk full'), { code: 'failed' });
        got.push(atob(base64));
        return { received: offset + atob(base64).length };
      })
      .handle('files.uploadEnd', ({ abort }) => ({ path: abort ? null : '/d/uploads/x-data.bin' }));
    setApi(api);
    const ds = useDatasetsStore();
    const file = Object.assign(new Blob(['abcdefghij']), { name: 'data.bin' });
    const h = ds.upload(file, 4);
    expect(await h.result).toBe('/d/uploads/x-data.bin');
    expect(got).toEqual(['abcd', 'efgh', 'ij']);
    expect(api.callsTo('files.uploadChunk').map((r) => (r as { offset: number }).offset)).toEqual([0, 4, 8]);
    expect([h.job.done, h.job.total, h.job.state]).toEqual([10, 10, 'done']);
    failAt = 4;
    const bad = ds.upload(file, 4);
    await expect(bad.result).rejects.toThrow(/disk full/);
    expect(bad.job.state).toBe('failed');
    expect(api.callsTo('files.uploadEnd').at(-1)).toEqual({ uploadId: 'u10', abort: true });
  });
});

function sample(over: Partial<SampleRecord>): SampleRecord {
  return {
    id: 1,
    runId: 1,
    checkpointId: 10,
    step: 100,
    sampler: 'ddim',
    sampleSteps: 50,
    spacing: 'uniform',
    eta: 0,
    seed: 0,
    n: 16,
    ema: true,
    path: '/r1/s.png',
    createdAt: '',
    ...over,
  };
}

describe('compare store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    let job = 0;
    api = new FakeApi()
      .handle('samples.list', ({ runId }) => (runId === 1 ? [sample({})] : []))
      .handle('samples.generate', () => ({ jobId: `s${++job}` }));
    setApi(api);
  });

  it('samples every pane with the same settings and reuses an identical stored grid', async () => {
    const cmp = useCompareStore();
    cmp.add({ runId: 1, runName: 'a', checkpointId: 10, step: 100 });
    cmp.add({ runId: 2, runName: 'b', checkpointId: 20, step: 100 });
    cmp.add({ runId: 2, runName: 'b', checkpointId: 21, step: 200 });
    cmp.add({ runId: 2, runName: 'b', checkpointId: 21, step: 200 }); // duplicate ignored
    expect(cmp.panes).toHaveLength(3);
    Object.assign(cmp.settings, { n: 16, sampler: 'ddim', steps: 50, spacing: 'uniform', eta: 0, seed: 0, ema: true });
    const done = cmp.sampleAll();
    await tick();
    await tick();
    const reqs = api.callsTo('samples.generate') as { checkpointId: number; settings: unknown }[];
    expect(reqs.map((r) => r.checkpointId).sort()).toEqual([20, 21]);
    expect(reqs[0]!.settings).toEqual(reqs[1]!.settings);
    expect(reqs[0]!.settings).toEqual({
      n: 16,
      sampler: 'ddim',
      steps: 50,
      spacing: 'uniform',
      eta: 0,
      seed: 0,
      ema: true,
    });
    api.emit('job.done', {
      jobId: 's1',
      kind: 'sample',
      ok: true,
      result: sample({ id: 5, runId: 2, checkpointId: 20, path: '/r2/a.png' }),
    });
    api.emit('job.done', { jobId: 's2', kind: 'sample', ok: false, error: 'checkpoint file missing' });
    await done;
    expect(cmp.panes[0]!.path).toBe('/r1/s.png');
    expect(cmp.panes.map((p) => p.path)).toContain('/r2/a.png');
    expect(cmp.panes.find((p) => p.error)?.error).toContain('checkpoint file missing');
  });

  it('one zoom for all panes: zooming keeps the point under the cursor and panning is clamped', () => {
    const cmp = useCompareStore();
    cmp.zoomAt(2, 0.5, 0.5, 200, 200);
    expect(cmp.zoom).toEqual({ scale: 2, x: -100, y: -100 });
    cmp.pan(500, 0, 200, 200);
    expect(cmp.zoom.x).toBe(0);
    cmp.pan(-1000, -1000, 200, 200);
    expect(cmp.zoom).toEqual({ scale: 2, x: -200, y: -200 });
    cmp.zoomAt(0.1, 0, 0, 200, 200);
    expect(cmp.zoom).toEqual({ scale: 1, x: 0, y: 0 });
  });
});
