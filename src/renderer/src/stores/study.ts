/**
 * The Study view (issue 12): a baseline and SA runs, what differs between them, their gap curves and the gap
 * ratio per t, their metric-vs-steps curves, and the report export (a job that can first measure the missing
 * gaps and evaluate the missing step counts).
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { EvalMetric } from '../../../shared/engineMessages';
import type { Study, StudyReport } from '../../../shared/evaluation';
import { api } from '../api';
import { toApiError } from '../api/errors';
import type { GapCurve } from '../charts/gap';
import { PALETTE } from '../charts/palette';
import { parseStepList } from '../evaluation';
import { JobCancelled, useJobsStore, type Job } from './jobs';

const ACTIVE: Job['state'][] = ['starting', 'running', 'cancelling'];

export const useStudyStore = defineStore('study', () => {
  const jobs = useJobsStore();
  const baselineId = ref<number | null>(null);
  const saIds = ref<number[]>([]);
  const gapEma = ref(false);
  const study = shallowRef<Study | null>(null);
  const loading = ref(false);
  const error = ref<unknown>(null);
  /** Report options: measure missing gaps; evaluate missing step counts with these settings when on. */
  const measureMissing = ref(true);
  const evaluate = ref({
    enabled: false,
    steps: '10,20,50,100',
    n: 1000,
    metrics: ['fid', 'kid', 'pr'] as EvalMetric[],
    ema: true,
  });
  const reportJob = ref<Job | null>(null);
  const report = shallowRef<StudyReport | null>(null);
  const reportError = ref<unknown>(null);
  const reporting = computed(() => !!reportJob.value && ACTIVE.includes(reportJob.value.state));
  const ready = computed(() => baselineId.value !== null && saIds.value.length > 0);
  const stepsError = computed(() => (evaluate.value.enabled ? parseStepList(evaluate.value.steps).error : null));

  const colorOf = (runId: number) => {
    const i = study.value?.runs.findIndex((r) => r.id === runId) ?? -1;
    return PALETTE[Math.max(0, i) % PALETTE.length]!;
  };
  const nameOf = (runId: number) => {
    const r = study.value?.runs.find((x) => x.id === runId);
    return r ? `#${r.id} ${r.name} (${r.loss})` : `#${runId}`;
  };
  const gapCurves = computed<GapCurve[]>(() =>
    (study.value?.gap.curves ?? []).map((g) => ({
      id: `gap-${g.runId}`,
      name: `${nameOf(g.runId)} @ ${g.step}`,
      t: g.t,
      y: g.meanAbs,
      color: colorOf(g.runId),
    })),
  );
  const ratioCurves = computed<GapCurve[]>(() =>
    (study.value?.gap.ratios ?? []).map((r) => ({
      id: `ratio-${r.runId}`,
      name: `baseline / ${nameOf(r.runId)}`,
      t: r.t,
      y: r.ratio.map((v) => (v === null ? NaN : v)),
      color: colorOf(r.runId),
    })),
  );

  /** Sets the runs (the baseline never among the SA runs) and loads the study. */
  async function choose(baseline: number | null, sa: number[]): Promise<void> {
    baselineId.value = baseline;
    saIds.value = [...new Set(sa.filter((id) => id !== baseline))];
    report.value = null;
    await load();
  }

  async function load(): Promise<void> {
    if (!ready.value) {
      study.value = null;
      return;
    }
    loading.value = true;
    const req = { baselineId: baselineId.value!, saIds: [...saIds.value], gapEma: gapEma.value };
    try {
      const s = await api().invoke('study.get', req);
      if (req.baselineId !== baselineId.value || req.saIds.join() !== saIds.value.join()) return;
      study.value = s;
      error.value = null;
    } catch (e) {
      study.value = null;
      error.value = toApiError(e, 'study.get');
    } finally {
      loading.value = false;
    }
  }

  async function exportReport(): Promise<void> {
    if (!ready.value || stepsError.value) return;
    reportError.value = null;
    const e = evaluate.value;
    const req = {
      baselineId: baselineId.value!,
      saIds: [...saIds.value],
      gapEma: gapEma.value,
      measureMissing: measureMissing.value,
      ...(e.enabled
        ? {
            evaluate: {
              metrics: [...e.metrics],
              n: e.n,
              sampler: 'ddim' as const,
              steps: parseStepList(e.steps).steps,
              ema: e.ema,
            },
          }
        : {}),
    };
    const h = jobs.run('study', `Study report #${req.baselineId} vs ${req.saIds.map((i) => `#${i}`).join(', ')}`, () =>
      api().invoke('study.report', req),
    );
    reportJob.value = h.job;
    try {
      report.value = await h.result;
      study.value = report.value.study;
    } catch (err) {
      if (!(err instanceof JobCancelled)) reportError.value = err;
    }
  }

  return {
    baselineId,
    saIds,
    gapEma,
    study,
    loading,
    error,
    measureMissing,
    evaluate,
    reportJob,
    report,
    reportError,
    reporting,
    ready,
    stepsError,
    gapCurves,
    ratioCurves,
    colorOf,
    nameOf,
    choose,
    load,
    exportReport,
  };
});
