// @vitest-environment happy-dom
/**
 * Issue 13 in the renderer: the sampling form lists the eight samplers and shows each one's variance options
 * (and "train one first" when no head fits), the gallery passes them on, covariance runs follow their parent in
 * the runs list, and the covariance-head dialog's store creates the child run.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { flushPromises, mount } from '@vue/test-utils';
import { defineComponent, h, ref, type Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { useGalleryStore } from '../../../src/renderer/src/stores/gallery';
import { useRunsStore } from '../../../src/renderer/src/stores/runs';
import { useCovRunsStore } from '../../../src/renderer/src/stores/covRuns';
import { defaultSettings, findMatching } from '../../../src/renderer/src/sampleSettings';
import { parseCovConfig } from '../../../src/shared/covConfig';
import { SAMPLER_NAMES } from '../../../src/shared/config';
import type { SampleSettings, RunDetail } from '../../../src/shared/contract';
import type { CheckpointRecord, RunRecord } from '../../../src/shared/records';
import { FakeApi, runRecord, sampleRecord } from './fakeApi';
import { loadSfc } from './sfc';

let Form: Component;
beforeAll(async () => {
  Form = await loadSfc('src/renderer/src/components/SampleSettingsForm.vue');
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

/** A covariance run of run 3 on checkpoint `step`. */
function head(id: number, kind: 'npr' | 'sn', step: number, over: Partial<RunRecord> = {}): RunRecord {
  const base = { runDir: '/r', checkpoint: `/r/ck${step}`, step, ema: true };
  const cov = parseCovConfig({ kind, base, steps: 10 });
  return runRecord({
    id,
    name: `h${id}`,
    kind: 'cov',
    parentId: 3,
    cov,
    status: 'completed',
    lastCheckpointStep: 10,
    ...over,
  });
}

function mountForm(settings: SampleSettings, heads: RunRecord[] | null) {
  const model = ref(settings);
  const Host = defineComponent(
    () => () =>
      h(Form, { modelValue: model.value, 'onUpdate:modelValue': (v: SampleSettings) => (model.value = v), heads }),
  );
  return { w: mount(Host), model };
}

describe('the sampling form', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('lists the eight samplers; η only for the DDIM family; Γ options only for analytic-*', async () => {
    const { w, model } = mountForm({ ...defaultSettings(), sampler: 'analytic-ddim' }, []);
    const options = w.findAll('[data-testid="sample-sampler"] option').map((o) => o.attributes('value'));
    expect(options).toEqual([...SAMPLER_NAMES]);
    expect(w.get('[data-testid="sample-eta"]').attributes('disabled')).toBeUndefined();
    expect(w.find('[data-testid="sample-cov-run"]').exists()).toBe(false);
    await w.get('[data-testid="sample-gamma-images"]').setValue('200');
    await w.get('[data-testid="sample-gamma-seed"]').setValue('3');
    expect(model.value.variance).toEqual({ gammaImages: 200, gammaSeed: 3 });
    // Emptied: the default (every training image) applies again.
    await w.get('[data-testid="sample-gamma-images"]').setValue('');
    expect(model.value.variance).toEqual({ gammaSeed: 3 });
    await w.get('[data-testid="sample-sampler"]').setValue('ddpm');
    expect(w.find('[data-testid="sample-gamma-images"]').exists()).toBe(false);
    expect(w.get('[data-testid="sample-eta"]').attributes('disabled')).toBeDefined();
  });

  it('npr/sn: offers the heads of their kind, and says to train one first when none is completed', async () => {
    const heads = [
      head(7, 'npr', 8),
      head(9, 'sn', 8),
      head(8, 'npr', 8, { status: 'running', lastCheckpointStep: null }),
    ];
    const { w, model } = mountForm({ ...defaultSettings(), sampler: 'npr-ddpm' }, heads);
    const opts = w.findAll('[data-testid="sample-cov-run"] option').map((o) => o.attributes('value'));
    expect(opts).toEqual(['', '7']);
    expect(w.find('[data-testid="sample-cov-missing"]').exists()).toBe(false);
    await w.get('[data-testid="sample-cov-run"]').setValue('7');
    expect(model.value.variance).toEqual({ covRun: 7 });

    const none = mountForm({ ...defaultSettings(), sampler: 'sn-ddim' }, [head(7, 'npr', 8)]);
    expect(none.w.get('[data-testid="sample-cov-missing"]').text()).toMatch(
      /No completed SN head .* train one\s+first/,
    );
    // Compare samples several checkpoints: each gets its newest head, so there is nothing to choose.
    const compare = mountForm({ ...defaultSettings(), sampler: 'sn-ddim' }, null);
    expect(compare.w.get('[data-testid="sample-cov-run"]').attributes('disabled')).toBeDefined();
    expect(compare.w.find('[data-testid="sample-cov-missing"]').exists()).toBe(false);
  });

  it('never reuses a stored grid for a variance sampler (its record does not name the Γ or head)', () => {
    const rec = sampleRecord({ checkpointId: 10, sampler: 'npr-ddpm', sampleSteps: 50, seed: 0, n: 16 });
    expect(findMatching([rec], 10, { ...defaultSettings(), sampler: 'npr-ddpm' })).toBeUndefined();
    expect(findMatching([{ ...rec, sampler: 'ddim' }], 10, defaultSettings())).toBeDefined();
  });
});

describe('stores', () => {
  let api: FakeApi;
  let all: RunRecord[];
  beforeEach(() => {
    setActivePinia(createPinia());
    const parent = runRecord({ id: 3, status: 'completed' });
    all = [parent, head(7, 'npr', 8), head(6, 'npr', 4), runRecord({ id: 5, name: 'other' }), head(9, 'sn', 8)];
    const detail: RunDetail = {
      run: parent,
      checkpoints: [ck(10, 4), ck(11, 8)],
      samples: [],
      metricNames: [],
      disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
      retention: null,
      active: false,
      queuePosition: null,
    };
    api = new FakeApi()
      .handle('runs.list', () => ({ runs: all, total: all.length }))
      .handle('runs.get', () => detail)
      .handle('samples.list', () => [])
      .handle('samples.generate', () => ({ jobId: 'g1' }))
      .handle('runs.createCov', (req) => head(12, req.kind, 8, { status: 'queued', lastCheckpointStep: null }));
    setApi(api);
  });

  it('gallery: the heads of the chosen checkpoint and weights; variance options go to samples.generate', async () => {
    const runs = useRunsStore();
    await runs.refresh();
    const g = useGalleryStore();
    await g.open(3);
    expect(g.heads.map((r) => r.id)).toEqual([9, 7]);
    g.checkpointId = 10;
    expect(g.heads.map((r) => r.id)).toEqual([6]);
    g.settings = { ...g.settings, ema: false };
    expect(g.heads).toEqual([]);
    g.settings = { ...g.settings, ema: true, sampler: 'npr-ddim', variance: { covRun: 6 } };
    void g.sample();
    await flushPromises();
    expect(api.callsTo('samples.generate')).toEqual([
      { checkpointId: 10, settings: expect.objectContaining({ sampler: 'npr-ddim', variance: { covRun: 6 } }) },
    ]);
  });

  it('runs list: covariance runs right after their parent; the kind filter', async () => {
    const runs = useRunsStore();
    await runs.refresh();
    expect(runs.filtered.map((r) => r.id)).toEqual([5, 3, 9, 7, 6]);
    runs.kinds = ['cov'];
    expect(runs.filtered.map((r) => r.id)).toEqual([9, 7, 6]);
    runs.kinds = ['train'];
    expect(runs.filtered.map((r) => r.id)).toEqual([5, 3]);
  });

  it('covariance dialog: newest checkpoint, EMA when the run keeps one; creates and lists the child run', async () => {
    const runs = useRunsStore();
    await runs.refresh();
    const cov = useCovRunsStore();
    await cov.open(all[0]!);
    expect([cov.form.checkpointId, cov.form.ema, cov.form.steps, cov.form.batch, cov.form.lr]).toEqual([
      11,
      true,
      500000,
      128,
      1e-4,
    ]);
    cov.form.steps = 0;
    expect(cov.invalid).toMatch(/Steps/);
    expect(await cov.create()).toBeNull();
    Object.assign(cov.form, { steps: 2000, kind: 'sn' });
    const rec = await cov.create();
    expect(api.callsTo('runs.createCov')).toEqual([
      { checkpointId: 11, kind: 'sn', steps: 2000, ema: true, batch: 128, lr: 1e-4, start: true },
    ]);
    expect(rec?.id).toBe(12);
    expect(runs.get(12)?.parentId).toBe(3);
    expect(cov.parent).toBeNull();
  });
});
