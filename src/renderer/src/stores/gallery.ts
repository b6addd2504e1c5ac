/** The gallery of one run: its sample grids by checkpoint, sampling on demand, and a denoising filmstrip. */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { SampleSettings } from '../../../shared/contract';
import type { SampleRecord } from '../../../shared/records';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { defaultSettings, describeSettings, findMatching } from '../sampleSettings';
import { useJobsStore, JobCancelled, type Job } from './jobs';
import { useRunsStore } from './runs';
import { headsOn } from '../samplerOptions';

const ACTIVE: Job['state'][] = ['starting', 'running', 'cancelling'];

function describeRecord(s: SampleRecord): string {
  const settings = {
    sampler: s.sampler as SampleSettings['sampler'],
    steps: s.sampleSteps,
    spacing: (s.spacing ?? 'uniform') as SampleSettings['spacing'],
    eta: s.eta ?? 0,
    seed: s.seed ?? 0,
    ema: s.ema,
    n: s.n,
  };
  return `step ${s.step} · ${describeSettings(settings)}`;
}

export const useGalleryStore = defineStore('gallery', () => {
  const runs = useRunsStore();
  const runId = ref<number | null>(null);
  const detail = computed(() => (runs.detail && runs.detail.run.id === runId.value ? runs.detail : null));
  const checkpoints = computed(() => [...(detail.value?.checkpoints ?? [])].sort((a, b) => b.step - a.step));
  const checkpointId = ref<number | null>(null);
  const settings = ref<SampleSettings>(defaultSettings());
  const samples = shallowRef<SampleRecord[]>([]);
  const listError = ref<unknown>(null);
  const sampleJob = ref<Job | null>(null);
  const sampleError = ref<unknown>(null);
  /** The grid shown large, and what it was made with. */
  const shown = ref<{ path: string; label: string } | null>(null);
  const frames = ref(10);
  const filmJob = ref<Job | null>(null);
  const filmPath = ref<string | null>(null);
  const filmError = ref<unknown>(null);
  /** Issue 15: a second filmstrip row, the x̂0 predicted from each frame's x_t; and whether the shown one has it. */
  const filmX0 = ref(false);
  const filmShowsX0 = ref(false);

  /** Newest step first; several grids per step when sampled with other settings. */
  const groups = computed(() => {
    const by = new Map<number, SampleRecord[]>();
    for (const s of samples.value) (by.get(s.step) ?? by.set(s.step, []).get(s.step)!).push(s);
    return [...by.entries()].sort((a, b) => b[0] - a[0]);
  });
  const selectedCheckpoint = computed(() => checkpoints.value.find((c) => c.id === checkpointId.value) ?? null);
  /** A stored grid of the chosen checkpoint made with exactly the form's settings. */
  const existing = computed(() =>
    checkpointId.value ? findMatching(samples.value, checkpointId.value, settings.value) : undefined,
  );
  const busy = computed(() => !!sampleJob.value && ACTIVE.includes(sampleJob.value.state));
  /** Issue 13: covariance runs trained on the chosen checkpoint with the form's weights (npr-*, sn-*). */
  const heads = computed(() => {
    const ck = selectedCheckpoint.value;
    return ck && runId.value ? headsOn(runs.all, runId.value, ck.step, settings.value.ema) : [];
  });
  const filmBusy = computed(() => !!filmJob.value && ACTIVE.includes(filmJob.value.state));

  async function loadSamples(id: number): Promise<void> {
    try {
      const list = await api().invoke('samples.list', { runId: id });
      if (runId.value !== id) return;
      samples.value = [...list].sort((a, b) => b.step - a.step || b.id - a.id);
      listError.value = null;
    } catch (e) {
      listError.value = e;
    }
  }

  /** Shows a run: its detail, sampling settings from its config, and its grids. */
  async function open(id: number | null): Promise<void> {
    if (id !== runId.value) {
      sampleJob.value = null;
      sampleError.value = null;
      filmJob.value = null;
      filmError.value = null;
      samples.value = [];
    }
    runId.value = id;
    shown.value = null;
    filmPath.value = null;
    if (!id) return;
    if (!runs.loaded) void runs.refresh();
    // Its covariance heads (issue 13): the shell loads only the newest runs (issue 15).
    void runs.loadChildren(id);
    const d = await runs.loadDetail(id);
    const cfg = d?.run.config;
    settings.value = {
      ...defaultSettings(),
      sampler: cfg?.sampler ?? 'ddim',
      steps: cfg?.sampleSteps ?? 50,
      n: Math.min(256, cfg?.sampleN ?? 16),
    };
    await loadSamples(id);
  }

  watch(
    checkpoints,
    (cks) => {
      if (!cks.some((c) => c.id === checkpointId.value)) checkpointId.value = cks[0]?.id ?? null;
    },
    { immediate: true },
  );
  // A grid written by the training loop shows up without a reload.
  watch(
    () => detail.value?.samples.length,
    () => runId.value && void loadSamples(runId.value),
  );

  function show(s: SampleRecord): void {
    shown.value = { path: s.path, label: describeRecord(s) };
  }

  /** Samples the chosen checkpoint with the form's settings (or shows the grid already made with them). */
  async function sample(): Promise<void> {
    const ck = selectedCheckpoint.value;
    const id = runId.value;
    if (!ck || !id) return;
    sampleError.value = null;
    if (existing.value) {
      show(existing.value);
      return;
    }
    const s = { ...settings.value };
    const label = `step ${ck.step} · ${describeSettings(s)}`;
    const h = useJobsStore().run('sample', `Sample ${label}`, () =>
      api().invoke('samples.generate', { checkpointId: ck.id, settings: s }),
    );
    sampleJob.value = h.job;
    try {
      shown.value = { path: (await h.result).path, label };
      await loadSamples(id);
    } catch (e) {
      if (!(e instanceof JobCancelled)) sampleError.value = toApiError(e);
    }
  }

  /** x_t of one seed from noise to the sample, `frames` frames (2–20). */
  async function filmstrip(): Promise<void> {
    const ck = selectedCheckpoint.value;
    if (!ck) return;
    filmError.value = null;
    const { n: _n, ...s } = settings.value;
    const fr = Math.max(2, Math.min(20, Math.round(frames.value)));
    const x0 = filmX0.value;
    const h = useJobsStore().run('filmstrip', `Filmstrip step ${ck.step} · seed ${s.seed}`, () =>
      api().invoke('samples.filmstrip', { checkpointId: ck.id, settings: s, frames: fr, x0 }),
    );
    filmJob.value = h.job;
    try {
      filmPath.value = (await h.result).path;
      filmShowsX0.value = x0;
    } catch (e) {
      if (!(e instanceof JobCancelled)) filmError.value = toApiError(e);
    }
  }

  return {
    runId,
    detail,
    checkpoints,
    checkpointId,
    settings,
    samples,
    groups,
    selectedCheckpoint,
    existing,
    heads,
    listError,
    sampleJob,
    sampleError,
    busy,
    shown,
    frames,
    filmJob,
    filmPath,
    filmError,
    filmBusy,
    filmX0,
    filmShowsX0,
    open,
    loadSamples,
    show,
    sample,
    filmstrip,
  };
});
