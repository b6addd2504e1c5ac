/**
 * Issue 12/15: the gallery's strip over training: one fixed noise sampled at every checkpoint of the run (or every
 * k-th), one column per checkpoint. The columns already sampled with the settings show at once (samples.stripPlan
 * reads the store); the rest are sampled by one job with progress and cancel.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { SampleSettings } from '../../../shared/contract';
import { MAX_STRIP_N, type StripColumn, type StripSettings } from '../../../shared/strip';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { defaultSettings, describeSettings } from '../sampleSettings';
import { useJobsStore, JobCancelled, type Job } from './jobs';
import { useGalleryStore } from './gallery';

const ACTIVE: Job['state'][] = ['starting', 'running', 'cancelling'];

export const useStripStore = defineStore('strip', () => {
  const gallery = useGalleryStore();
  /** Whether the gallery shows the strip (it is planned only then). */
  const open = ref(false);
  const settings = ref<SampleSettings>({ ...defaultSettings(), n: 8 });
  const every = ref(1);
  const columns = shallowRef<StripColumn[]>([]);
  const planError = ref<unknown>(null);
  const job = ref<Job | null>(null);
  const error = ref<unknown>(null);
  /** The strip PNG the last job wrote. */
  const path = ref<string | null>(null);
  let planSeq = 0;

  /** What the form holds that the server would refuse, said before asking it. */
  const invalid = computed(() => {
    const { n } = settings.value;
    if (!Number.isInteger(n) || n < 1 || n > MAX_STRIP_N) return `Noise images: 1 to ${MAX_STRIP_N}`;
    if (!Number.isInteger(every.value) || every.value < 1) return 'Every k-th checkpoint: a whole number ≥ 1';
    return null;
  });
  const request = computed((): StripSettings | null => {
    if (invalid.value) return null;
    const { variance, ...s } = settings.value;
    return { ...s, every: every.value, gammaImages: variance?.gammaImages, gammaSeed: variance?.gammaSeed };
  });
  const busy = computed(() => !!job.value && ACTIVE.includes(job.value.state));
  const sampled = computed(() => columns.value.filter((c) => c.sample).length);
  const missing = computed(() => columns.value.filter((c) => !c.sample && !c.skipped).length);
  const usable = computed(() => columns.value.filter((c) => !c.skipped).length);

  /** The columns from the store: cached ones at once, the others as gaps. */
  async function plan(): Promise<void> {
    const runId = gallery.runId;
    const settings = request.value;
    const seq = ++planSeq;
    if (!runId || !settings || gallery.checkpoints.length === 0) {
      columns.value = [];
      return;
    }
    try {
      const res = await api().invoke('samples.stripPlan', { runId, settings });
      if (seq !== planSeq) return;
      columns.value = res.columns;
      planError.value = null;
    } catch (e) {
      if (seq === planSeq) planError.value = toApiError(e);
    }
  }

  /** Samples the missing columns (or only writes the strip when none is missing). */
  async function run(): Promise<void> {
    const runId = gallery.runId;
    const settings = request.value;
    if (!runId || !settings) return;
    error.value = null;
    const label = `Strip over training · ${describeSettings(settings)}`;
    const h = useJobsStore().run('strip', label, () => api().invoke('samples.strip', { runId, settings }));
    job.value = h.job;
    try {
      const r = await h.result;
      if (gallery.runId !== runId) return;
      path.value = r.path;
      columns.value = r.columns;
    } catch (e) {
      if (!(e instanceof JobCancelled)) error.value = toApiError(e);
      // A cancel keeps the columns sampled before it.
      await plan();
    }
    void gallery.loadSamples(runId);
  }

  function setEma(ema: boolean): void {
    settings.value = { ...settings.value, ema };
  }

  // Another run in the gallery: the strip starts again from that run's sampling settings.
  watch(
    () => gallery.detail?.run,
    (run, before) => {
      if (!run || run.id === before?.id) return;
      settings.value = { ...defaultSettings(), sampler: run.config.sampler, steps: run.config.sampleSteps, n: 8 };
      every.value = 1;
      columns.value = [];
      job.value = null;
      error.value = null;
      path.value = null;
    },
    { immediate: true },
  );
  watch(
    [open, request, () => gallery.runId, () => gallery.checkpoints.length],
    () => {
      if (open.value) void plan();
    },
    { deep: true },
  );

  return {
    open,
    settings,
    every,
    columns,
    planError,
    job,
    error,
    path,
    invalid,
    busy,
    sampled,
    missing,
    usable,
    plan,
    run,
    setEma,
  };
});
