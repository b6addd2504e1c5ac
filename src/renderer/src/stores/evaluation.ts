/**
 * The Evaluate panel of a run (issue 12): the form (checkpoint, weights, metrics, n, sampler, step counts), the
 * running eval job with its progress, ETA and cancel, its table, and the run's stored results and curves.
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose, ref, shallowRef, watch } from 'vue';
import type { EvalMetric } from '../../../shared/engineMessages';
import type { EvalOutcome } from '../../../shared/evaluation';
import type { EvalCurve, EvalResult } from '../../../shared/records';
import { samplerParts, type SamplerName } from '../../../shared/config';
import type { SampleVariance } from '../../../shared/contract';
import { headsOn } from '../samplerOptions';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { jobEta, parseStepList } from '../evaluation';
import { JobCancelled, useJobsStore, type Job } from './jobs';
import { useRunsStore } from './runs';
import { useSettingsStore } from './settings';

const ACTIVE: Job['state'][] = ['starting', 'running', 'cancelling'];

export interface EvalForm {
  checkpointId: number | null;
  ema: boolean;
  metrics: EvalMetric[];
  n: number;
  sampler: SamplerName;
  /** Issue 13: the variance sampler's options (as the sampling form's); each sampler reads only its own. */
  variance: SampleVariance;
  steps: string;
  /** Dataset images for the reference statistics ('' = all). */
  refN: string;
}

/** The options the sampler reads (the form keeps the others for when the user switches back); none: undefined. */
export function varianceOf(sampler: SamplerName, v: SampleVariance): SampleVariance | undefined {
  const need = samplerParts(sampler).variance;
  const keys: (keyof SampleVariance)[] =
    need === 'gamma' ? ['gammaImages', 'gammaSeed'] : need === 'none' ? [] : ['covRun'];
  const out: SampleVariance = {};
  for (const k of keys) if (v[k] !== undefined) out[k] = v[k];
  return Object.keys(out).length ? out : undefined;
}

export const useEvaluationStore = defineStore('evaluation', () => {
  const runs = useRunsStore();
  const settings = useSettingsStore();
  const jobs = useJobsStore();
  const runId = ref<number | null>(null);
  const detail = computed(() => (runs.detail && runs.detail.run.id === runId.value ? runs.detail : null));
  const checkpoints = computed(() => [...(detail.value?.checkpoints ?? [])].sort((a, b) => b.step - a.step));
  const form = ref<EvalForm>({
    checkpointId: null,
    ema: true,
    metrics: ['fid', 'kid', 'pr'],
    n: 1000,
    sampler: 'ddim',
    variance: {},
    steps: '10,20,50,100',
    refN: '',
  });
  /** Covariance runs of the chosen checkpoint and weights (the npr-* / sn-* samplers' heads). */
  const heads = computed(() => {
    const ck = checkpoints.value.find((c) => c.id === form.value.checkpointId);
    return ck && runId.value ? headsOn(runs.all, runId.value, ck.step, form.value.ema) : [];
  });
  const parsed = computed(() => parseStepList(form.value.steps, detail.value?.run.T));
  const refNError = computed(() => {
    const t = form.value.refN.trim();
    return t === '' || (/^\d+$/.test(t) && Number(t) >= 2)
      ? null
      : 'a whole number of at least 2, or empty for all images';
  });
  const formError = computed(() => {
    if (!form.value.checkpointId) return 'the run has no checkpoint yet';
    if (form.value.metrics.length === 0) return 'choose at least one metric';
    if (settings.pixel && form.value.metrics.includes('is')) {
      return 'the Inception Score needs the Inception weights (Settings)';
    }
    if (!Number.isInteger(form.value.n) || form.value.n < 2) return 'n: at least 2 images';
    return parsed.value.error ?? refNError.value;
  });

  const job = ref<Job | null>(null);
  const error = ref<unknown>(null);
  const outcome = shallowRef<EvalOutcome | null>(null);
  const results = shallowRef<EvalResult[]>([]);
  const curves = shallowRef<EvalCurve[]>([]);
  const metric = ref('fid');
  const listError = ref<unknown>(null);
  const busy = computed(() => !!job.value && ACTIVE.includes(job.value.state));
  /** Ticks once a second while a job runs, so the ETA moves between progress events. */
  const now = ref(Date.now());
  let timer: ReturnType<typeof setInterval> | null = null;
  const eta = computed(() => (busy.value ? jobEta(job.value, now.value) : null));
  watch(busy, (b) => {
    if (b && !timer) timer = setInterval(() => (now.value = Date.now()), 1000);
    if (!b && timer) {
      clearInterval(timer);
      timer = null;
    }
  });
  onScopeDispose(() => timer && clearInterval(timer));

  watch(
    checkpoints,
    (cks) => {
      if (!cks.some((c) => c.id === form.value.checkpointId)) form.value.checkpointId = cks[0]?.id ?? null;
    },
    { immediate: true },
  );

  async function loadResults(): Promise<void> {
    const id = runId.value;
    if (!id) return;
    try {
      const [list, lines] = await Promise.all([
        api().invoke('eval.list', { runId: id }),
        api().invoke('eval.curves', { runIds: [id], metric: metric.value }),
      ]);
      if (runId.value !== id) return;
      results.value = list;
      curves.value = lines;
      listError.value = null;
    } catch (e) {
      listError.value = toApiError(e, 'eval.list');
    }
  }
  watch(metric, () => void loadResults());

  /** Shows a run's panel: its results and curves; the settings say which feature space applies. */
  async function open(id: number | null): Promise<void> {
    if (id !== runId.value) {
      job.value = null;
      error.value = null;
      outcome.value = null;
      results.value = [];
      curves.value = [];
    }
    runId.value = id;
    if (!id) return;
    if (!settings.view) void settings.load();
    // Its covariance heads (issue 13) as sampler choices: the shell loads only the newest runs (issue 15).
    void runs.loadChildren(id);
    await loadResults();
  }

  async function start(): Promise<void> {
    const id = runId.value;
    const ckId = form.value.checkpointId;
    if (!id || !ckId || formError.value) return;
    error.value = null;
    const f = form.value;
    const step = checkpoints.value.find((c) => c.id === ckId)?.step;
    const variance = varianceOf(f.sampler, f.variance);
    const req = {
      checkpointId: ckId,
      ema: f.ema,
      metrics: [...f.metrics],
      n: f.n,
      sampler: f.sampler,
      steps: parsed.value.steps,
      ...(f.refN.trim() ? { refN: Number(f.refN) } : {}),
      ...(variance ? { variance } : {}),
    };
    const label = `Evaluate #${id} step ${step} · ${f.sampler} ${req.steps.join(',')} · n ${f.n}`;
    const h = jobs.run('eval', label, () => api().invoke('eval.start', req));
    job.value = h.job;
    try {
      outcome.value = await h.result;
      await loadResults();
      // The runs list shows each run's latest metric values.
      void runs.refresh();
    } catch (e) {
      if (!(e instanceof JobCancelled)) error.value = e;
    }
  }

  async function cancel(): Promise<void> {
    if (job.value) await jobs.cancel(job.value);
  }

  return {
    runId,
    detail,
    checkpoints,
    form,
    parsed,
    formError,
    job,
    error,
    outcome,
    results,
    curves,
    metric,
    listError,
    busy,
    eta,
    now,
    open,
    start,
    cancel,
    loadResults,
    heads,
  };
});
