// @vitest-environment happy-dom
/**
 * The Evaluate panel's store and the Study view (issue 12): progress, ETA and cancel of an eval job, the table
 * from its result, the runs list keeping metric values across run updates, and the study as a user picks runs.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { useEvaluationStore } from '../../../src/renderer/src/stores/evaluation';
import { RECENT_RUNS, useRunsStore } from '../../../src/renderer/src/stores/runs';
import { jobEta, metricCells, parseStepList } from '../../../src/renderer/src/evaluation';
import type { EvalOutcome, SettingsView, Study } from '../../../src/shared/evaluation';
import type { CheckpointRecord, EvalSummary } from '../../../src/shared/records';
import { FakeApi, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

const checkpoints: CheckpointRecord[] = [
  { id: 10, runId: 1, step: 100, kind: 'full', path: '/r/ck100', bytes: 1, metrics: {}, createdAt: '' },
  { id: 11, runId: 1, step: 200, kind: 'full', path: '/r/ck200', bytes: 1, metrics: {}, createdAt: '' },
];
const pixelSettings: SettingsView = {
  settings: { inceptionWeights: null },
  file: '/d/settings.json',
  env: { name: 'SADPM_INCEPTION_WEIGHTS', value: null },
  weights: { path: null, source: null, found: false, sha256: null, ok: false, message: 'no Inception weights set' },
  help: 'fetch it',
};
const space = { id: 'pixel-8x8' as const, label: 'pixel space 8×8×3 (not Inception)', dim: 192, weightsSha256: null };
function outcome(): EvalOutcome {
  const row = (s: number, fid: number) => ({
    sampleSteps: s,
    fid,
    kid: 0.1,
    kidStd: 0.01,
    is: null,
    isStd: null,
    precision: 0.5,
    recall: 0.4,
    seconds: 2,
    previewPath: `/p${s}.png`,
  });
  return {
    runId: 1,
    runName: 'r',
    checkpointStep: 200,
    ema: true,
    sampler: 'ddim',
    spacing: 'uniform',
    eta: 0,
    seed: 0,
    n: 16,
    metrics: ['fid', 'kid', 'pr'],
    space,
    featureSpace: 'pixel',
    weightsSource: null,
    note: 'pixel',
    refKey: 'k',
    refCached: true,
    refCount: 64,
    results: [],
    rows: [row(10, 31.5), row(20, 22.25)],
    variance: 'none',
    varianceRef: null,
    varianceUsed: { kind: 'none' },
  };
}
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

describe('evaluation helpers', () => {
  it('parses step lists, naming the bad entry', () => {
    expect(parseStepList(' 10, 20,50 ')).toEqual({ steps: [10, 20, 50], error: null });
    expect(parseStepList('10,x').error).toBe("'x' is not a positive whole number");
    expect(parseStepList('10,2000', 1000).error).toBe("2000 is more than the run's T = 1000 diffusion steps");
    expect(parseStepList('5,5').error).toBe('5 is listed twice');
    expect(parseStepList('').error).toMatch(/give one or more/);
  });
  it('ETA from the average rate; none before progress or after the end', () => {
    expect(jobEta({ done: 0, total: 100, startedAt: 0 }, 5000)).toBeNull();
    expect(jobEta({ done: 25, total: 100, startedAt: 0 }, 10_000)).toBeCloseTo(30, 9);
    expect(jobEta({ done: 100, total: 100, startedAt: 0 }, 10_000)).toBeNull();
  });
  it('one runs-list cell per metric, Inception preferred, pixel marked', () => {
    const e = (metric: string, featureSpace: 'pixel' | 'inception', value: number): EvalSummary => ({
      metric,
      featureSpace,
      value,
      std: null,
      step: 5,
      weights: 'ema',
      sampler: 'ddim',
      sampleSteps: 10,
      n: 16,
      createdAt: '',
    });
    const cells = metricCells([e('kid', 'pixel', 0.0123), e('fid', 'pixel', 31.5), e('fid', 'inception', 250.25)]);
    expect(cells.map((c) => c.text)).toEqual(['FID 250.3', 'KID px 0.0123']);
    expect(cells[1]!.title).toMatch(/pixel space \(not Inception\)/);
  });
});

describe('evaluation store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeApi()
      .handle('runs.get', ({ id }) => detail(id))
      .handle('runs.list', () => ({ runs: [runRecord({ id: 1 })], total: 1 }))
      .handle('settings.get', () => pixelSettings)
      .handle('eval.list', () => [])
      .handle('eval.curves', () => [])
      .handle('eval.start', () => ({ jobId: 'e1' }))
      .handle('jobs.cancel', () => ({ ok: true as const }));
    setApi(api);
  });

  async function opened() {
    const runs = useRunsStore();
    const ev = useEvaluationStore();
    await runs.loadDetail(1);
    await ev.open(1);
    await flushPromises();
    return ev;
  }

  it('starts an eval job with the form, shows progress and an ETA, then the table; the runs list refreshes', async () => {
    const ev = await opened();
    expect(ev.form.checkpointId).toBe(11); // the latest checkpoint
    ev.form.steps = '10, 20';
    ev.form.n = 16;
    ev.form.refN = '64';
    expect(ev.formError).toBeNull();
    const started = ev.start();
    await flushPromises();
    expect(api.callsTo('eval.start')).toEqual([
      { checkpointId: 11, ema: true, metrics: ['fid', 'kid', 'pr'], n: 16, sampler: 'ddim', steps: [10, 20], refN: 64 },
    ]);
    expect(ev.busy).toBe(true);
    ev.job!.startedAt = Date.now() - 10_000;
    api.emit('job.progress', { jobId: 'e1', done: 8, total: 32 });
    ev.now = Date.now();
    expect(ev.eta).toBeGreaterThan(25);
    expect(ev.eta).toBeLessThan(35);
    const listsBefore = api.callsTo('runs.list').length;
    api.emit('job.done', { jobId: 'e1', kind: 'eval', ok: true, result: outcome() });
    await started;
    expect(ev.busy).toBe(false);
    expect(ev.eta).toBeNull();
    expect(ev.outcome!.rows.map((r) => r.fid)).toEqual([31.5, 22.25]);
    expect(api.callsTo('eval.list')).toHaveLength(2);
    expect(api.callsTo('runs.list').length).toBe(listsBefore + 1);
  });

  it('cancel ends the job as cancelled without an error; the IS needs the weights; bad steps block the start', async () => {
    const ev = await opened();
    ev.form.metrics = ['fid', 'is'];
    expect(ev.formError).toMatch(/Inception Score needs the Inception weights/);
    ev.form.metrics = ['fid'];
    ev.form.steps = '10,abc';
    expect(ev.formError).toBe("'abc' is not a positive whole number");
    await ev.start();
    expect(api.callsTo('eval.start')).toHaveLength(0);
    ev.form.steps = '10';
    const started = ev.start();
    await flushPromises();
    await ev.cancel();
    expect(api.callsTo('jobs.cancel')).toEqual([{ jobId: 'e1' }]);
    expect(ev.job!.state).toBe('cancelling');
    api.emit('job.done', { jobId: 'e1', kind: 'eval', ok: false, error: 'cancelled' });
    await started;
    expect(ev.job!.state).toBe('cancelled');
    expect(ev.error).toBeNull();
    expect(ev.outcome).toBeNull();
  });

  it('a run update without evaluation results keeps the metric values the list brought', async () => {
    const runs = useRunsStore();
    const latestEvals: EvalSummary[] = [
      {
        metric: 'fid',
        featureSpace: 'pixel',
        value: 3,
        std: null,
        step: 1,
        weights: 'ema',
        sampler: 'ddim',
        sampleSteps: 10,
        n: 16,
        createdAt: '',
      },
    ];
    api.handle('runs.list', () => ({ runs: [runRecord({ id: 1, latestEvals })], total: 1 }));
    await runs.refresh();
    // The newest runs, with their evaluation results (issue 15: not every run).
    expect(api.callsTo('runs.list')).toEqual([{ limit: RECENT_RUNS, withEvals: true }]);
    runs.subscribe();
    api.emit('run.updated', runRecord({ id: 1, step: 9 }));
    expect(runs.all[0]!.step).toBe(9);
    expect(runs.all[0]!.latestEvals).toEqual(latestEvals);
  });
});

describe('Study view', () => {
  let StudyView: Component;
  let api: FakeApi;
  beforeAll(async () => {
    StudyView = await loadSfc('src/renderer/src/views/StudyView.vue');
  });
  const study = (comparable: boolean): Study => ({
    runs: [
      { id: 1, name: 'base', loss: 'DDPM', role: 'baseline', step: 200, seed: 0 },
      { id: 2, name: 'sa', loss: 'SA-2 λ=1', role: 'sa', step: 200, seed: 0 },
    ],
    differences: [
      {
        field: 'k',
        kind: 'loss',
        values: [
          { runId: 1, value: '1' },
          { runId: 2, value: '2' },
        ],
      },
      ...(comparable
        ? []
        : [
            {
              field: 'dataset',
              kind: 'refuse' as const,
              values: [
                { runId: 1, value: 'a' },
                { runId: 2, value: 'b' },
              ],
            },
          ]),
    ],
    comparable,
    gap: {
      step: 200,
      t0: 300,
      weights: 'raw',
      curves: [],
      ratios: [{ runId: 2, t: [2, 1], ratio: [2, 2.5], final: 2.5, mean: 2.25 }],
      missing: [],
      notes: [],
    },
    metrics: [],
    spaceLabel: null,
    notes: [],
  });
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeApi()
      .handle('runs.list', () => ({
        runs: [runRecord({ id: 1, name: 'base', k: 1 }), runRecord({ id: 2, name: 'sa' })],
        total: 2,
      }))
      .handle('study.get', ({ saIds }) => study(saIds[0] !== 3))
      .handle('study.report', () => ({ jobId: 'st1' }));
    setApi(api);
  });

  it('loads the study once a baseline and an SA run are picked; shows what differs and the gap ratio; exports', async () => {
    const w = mount(StudyView, { global: { stubs: { GapCurveChart: true, EvalCurveChart: true } } });
    await flushPromises();
    await w.get('[data-testid="study-baseline"]').setValue('1');
    await flushPromises();
    expect(api.callsTo('study.get')).toHaveLength(0);
    await w.get('[data-testid="study-sa-2"]').trigger('click');
    await flushPromises();
    expect(api.callsTo('study.get')).toEqual([{ baselineId: 1, saIds: [2], gapEma: false }]);
    expect(w.get('[data-testid="study-diff-k"]').text()).toMatch(/k\s*1\s*2\s*the SA loss/);
    expect(w.get('[data-testid="study-ratio-2"]').text()).toMatch(/#2 sa \(SA-2 λ=1\)\s*2\.5\s*2\.25/);
    await w.get('[data-testid="study-export"]').trigger('click');
    await flushPromises();
    expect(api.callsTo('study.report')).toEqual([{ baselineId: 1, saIds: [2], gapEma: false, measureMissing: true }]);
    const report = {
      dir: '/d/exports/s',
      markdown: '/d/exports/s/report.md',
      files: ['/d/exports/s/report.md'],
      study: study(true),
    };
    api.emit('job.done', { jobId: 'st1', kind: 'study', ok: true, result: report });
    await flushPromises();
    expect(w.get('[data-testid="study-report-path"]').text()).toBe('/d/exports/s/report.md');
  });

  it('runs that differ in data are flagged and the export is disabled', async () => {
    api.handle('runs.list', () => ({ runs: [runRecord({ id: 1 }), runRecord({ id: 3 })], total: 2 }));
    const w = mount(StudyView, { global: { stubs: { GapCurveChart: true, EvalCurveChart: true } } });
    await flushPromises();
    await w.get('[data-testid="study-baseline"]').setValue('1');
    await w.get('[data-testid="study-sa-3"]').trigger('click');
    await flushPromises();
    expect(w.find('[data-testid="study-not-comparable"]').exists()).toBe(true);
    expect(w.get('[data-testid="study-diff-dataset"]').classes()).toContain('diff--refuse');
    expect(w.get('[data-testid="study-export"]').attributes('disabled')).toBeDefined();
  });
});
