// @vitest-environment happy-dom
/**
 * Issue 13 in the Evaluate panel: the eight samplers with the sampling form's variance options (the same
 * component), the heads of the chosen checkpoint and weights, only the chosen sampler's options sent, and the
 * variance source named in the table and on each curve.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { useEvaluationStore, varianceOf } from '../../../src/renderer/src/stores/evaluation';
import { useRunsStore } from '../../../src/renderer/src/stores/runs';
import { parseCovConfig } from '../../../src/shared/covConfig';
import { SAMPLER_NAMES } from '../../../src/shared/config';
import type { SettingsView } from '../../../src/shared/evaluation';
import type { CheckpointRecord, EvalCurve, EvalResult, RunRecord } from '../../../src/shared/records';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

const checkpoints: CheckpointRecord[] = [
  { id: 10, runId: 1, step: 100, kind: 'full', path: '/r/ck100', bytes: 1, metrics: {}, createdAt: '' },
  { id: 11, runId: 1, step: 200, kind: 'full', path: '/r/ck200', bytes: 1, metrics: {}, createdAt: '' },
];
const settingsView: SettingsView = {
  settings: { inceptionWeights: null },
  file: '/d/settings.json',
  env: { name: 'SADPM_INCEPTION_WEIGHTS', value: null },
  weights: { path: null, source: null, found: false, sha256: null, ok: false, message: 'no Inception weights set' },
  help: 'fetch it',
};
const detail = (id: number) => ({
  run: runRecord({ id, name: `r${id}`, status: 'completed', T: 1000 }),
  checkpoints,
  samples: [],
  metricNames: [],
  disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
  retention: null,
  active: false,
  queuePosition: null,
});
/** A completed covariance run of run 1 on checkpoint `step` with these weights. */
const head = (id: number, kind: 'npr' | 'sn', step: number, ema: boolean): RunRecord =>
  runRecord({
    id,
    name: `h${id}`,
    kind: 'cov',
    parentId: 1,
    status: 'completed',
    lastCheckpointStep: 4,
    cov: parseCovConfig({ kind, base: { runDir: '/r', checkpoint: `/r/ck${step}`, step, ema }, steps: 4 }),
  });
const curve = (variance: string): EvalCurve => ({
  runId: 1,
  step: 200,
  weights: 'ema',
  sampler: 'npr-ddim',
  variance,
  spacing: 'uniform',
  eta: 0,
  n: 16,
  featureSpace: 'pixel',
  metric: 'fid',
  points: [{ sampleSteps: 10, value: 3, std: null }],
});

let Panel: Component;
let api: FakeApi;
beforeAll(async () => {
  Panel = await loadSfc('src/renderer/src/components/eval/EvaluatePanel.vue');
});
beforeEach(() => {
  setActivePinia(createPinia());
  api = new FakeApi()
    .handle('runs.get', ({ id }) => detail(id))
    .handle('runs.list', () => ({
      runs: [runRecord({ id: 1 }), head(5, 'npr', 200, true), head(6, 'npr', 100, true), head(7, 'npr', 200, false)],
      total: 4,
    }))
    .handle('settings.get', () => settingsView)
    .handle('eval.list', () => [])
    .handle('eval.curves', () => [curve('npr run #5 step 4'), curve('npr run #8 step 4')])
    .handle('eval.start', () => ({ jobId: 'e1' }));
  setApi(api);
});

describe('the Evaluate panel with the variance samplers', () => {
  it("offers the eight samplers and the sampling form's options; sends only the chosen sampler's", async () => {
    const runs = useRunsStore();
    await runs.refresh();
    await runs.loadDetail(1);
    const ev = useEvaluationStore();
    const w = mount(Panel, { props: { run: detail(1).run }, global: { stubs: { EvalCurveChart: true } } });
    await flushPromises();
    const options = w.findAll('[data-testid="eval-sampler"] option').map((o) => o.attributes('value'));
    expect(options).toEqual([...SAMPLER_NAMES]);
    await w.get('[data-testid="eval-sampler"]').setValue('analytic-ddim');
    await w.get('[data-testid="eval-gamma-images"]').setValue('200');
    expect(ev.form.variance).toEqual({ gammaImages: 200 });
    await w.get('[data-testid="eval-sampler"]').setValue('npr-ddim');
    expect(w.find('[data-testid="eval-gamma-images"]').exists()).toBe(false);
    // The heads of the chosen checkpoint (step 200, the latest) and weights (EMA): #5 only.
    const heads = w.findAll('[data-testid="eval-cov-run"] option').map((o) => o.attributes('value'));
    expect(heads).toEqual(['', '5']);
    await w.get('[data-testid="eval-cov-run"]').setValue('5');
    ev.form.steps = '10';
    ev.form.n = 16;
    void ev.start();
    await flushPromises();
    // The Γ images the form still holds are not sent with npr-ddim.
    expect(api.callsTo('eval.start')).toEqual([
      {
        checkpointId: 11,
        ema: true,
        metrics: ['fid', 'kid', 'pr'],
        n: 16,
        sampler: 'npr-ddim',
        steps: [10],
        variance: { covRun: 5 },
      },
    ]);
    // Raw weights on step 200: #7; EMA weights on step 100: #6.
    ev.form.ema = false;
    await flushPromises();
    expect(w.findAll('[data-testid="eval-cov-run"] option').map((o) => o.attributes('value'))).toEqual(['', '7']);
    ev.form.checkpointId = 10;
    ev.form.ema = true;
    await flushPromises();
    expect(w.findAll('[data-testid="eval-cov-run"] option').map((o) => o.attributes('value'))).toEqual(['', '6']);
    ev.form.sampler = 'sn-ddim';
    await flushPromises();
    expect(w.get('[data-testid="eval-cov-missing"]').text()).toMatch(/No completed SN head .* train one\s+first/);
  });

  it("names the variance source in the table caption and in each curve's name", async () => {
    await useRunsStore().loadDetail(1);
    const ev = useEvaluationStore();
    const w = mount(Panel, { props: { run: detail(1).run }, global: { stubs: { EvalCurveChart: true } } });
    await flushPromises();
    ev.results = [{ metric: 'fid' } as EvalResult];
    ev.outcome = {
      runId: 1,
      runName: 'r1',
      checkpointStep: 200,
      ema: true,
      sampler: 'npr-ddim',
      spacing: 'uniform',
      eta: 0,
      seed: 0,
      n: 16,
      metrics: ['fid'],
      space: { id: 'pixel-8x8', label: 'pixel space', dim: 192, weightsSha256: null },
      featureSpace: 'pixel',
      weightsSource: null,
      note: null,
      rows: [],
      refKey: 'k',
      refCached: true,
      refCount: 32,
      results: [],
      variance: 'npr run #5 step 4',
      varianceRef: '/h.sadpm-cov',
      varianceUsed: { kind: 'head', head: 'npr', covRunId: 5, path: '/h.sadpm-cov', step: 4 },
    };
    await flushPromises();
    expect(w.get('[data-testid="eval-table"]').text()).toContain('npr-ddim (npr run #5 step 4)');
    const chart = w.findComponent({ name: 'EvalCurveChart' });
    const nameOf = chart.props('nameOf') as (c: EvalCurve) => string;
    const names = (chart.props('curves') as EvalCurve[]).map(nameOf);
    expect(names).toEqual([
      'step 200 · ema · npr-ddim (npr run #5 step 4) · n 16 · pixel',
      'step 200 · ema · npr-ddim (npr run #8 step 4) · n 16 · pixel',
    ]);
    expect(varianceOf('ddim', { gammaImages: 3, covRun: 2 })).toBeUndefined();
    expect(varianceOf('analytic-ddpm', { gammaImages: 3, gammaSeed: 1, covRun: 2 })).toEqual({
      gammaImages: 3,
      gammaSeed: 1,
    });
  });
});
