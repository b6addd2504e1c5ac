/** Exports of one run: a sample grid PNG (a job), metrics as CSV/JSON, a run bundle; downloads in web mode. */
import { defineStore } from 'pinia';
import { computed, reactive, ref, watch } from 'vue';
import type { SampleSettings } from '../../../shared/contract';
import { api, fileUrl } from '../api';
import { toApiError } from '../api/errors';
import { basename } from '../format';
import { defaultSettings } from '../sampleSettings';
import { useJobsStore, JobCancelled, type Job } from './jobs';
import { useRunsStore } from './runs';
import { headsOn } from '../samplerOptions';

export interface Written {
  path: string;
  bytes: number;
}

export const useExportsStore = defineStore('exports', () => {
  const runs = useRunsStore();
  const runId = ref<number | null>(null);
  const detail = computed(() => (runs.detail && runs.detail.run.id === runId.value ? runs.detail : null));
  const checkpoints = computed(() => [...(detail.value?.checkpoints ?? [])].sort((a, b) => b.step - a.step));

  const grid = reactive({ checkpointId: null as number | null, rows: 4, cols: 4, padding: 2, labels: true });
  const settings = ref<SampleSettings>(defaultSettings());
  const gridJob = ref<Job | null>(null);
  const gridPath = ref<string | null>(null);
  const gridError = ref<unknown>(null);

  const metricsFormat = ref<'csv' | 'json'>('csv');
  const metricsOut = ref<Written | null>(null);
  const metricsError = ref<unknown>(null);
  const metricsBusy = ref(false);

  const bundleCheckpoints = ref<'latest' | 'all' | 'none'>('latest');
  const bundleOut = ref<Written | null>(null);
  const bundleError = ref<unknown>(null);
  const bundleBusy = ref(false);
  const downloadError = ref<unknown>(null);

  const gridImages = computed(() => grid.rows * grid.cols);
  /** Issue 13: covariance runs trained on the chosen checkpoint with the form's weights (npr-*, sn-*). */
  const heads = computed(() => {
    const ck = checkpoints.value.find((c) => c.id === grid.checkpointId);
    return ck && runId.value ? headsOn(runs.all, runId.value, ck.step, settings.value.ema) : [];
  });
  /** What is wrong with the grid's layout, or null. */
  const gridInvalid = computed(() => {
    if (!Number.isInteger(grid.rows) || grid.rows < 1) return 'Rows must be a whole number ≥ 1.';
    if (!Number.isInteger(grid.cols) || grid.cols < 1 || grid.cols > 64) return 'Columns must be between 1 and 64.';
    if (gridImages.value > 256) return `rows × columns = ${gridImages.value}; at most 256 images per grid.`;
    if (!Number.isInteger(grid.padding) || grid.padding < 0 || grid.padding > 32) {
      return 'Padding must be between 0 and 32 px.';
    }
    return null;
  });
  const gridBusy = computed(
    () => !!gridJob.value && ['starting', 'running', 'cancelling'].includes(gridJob.value.state),
  );

  watch(
    checkpoints,
    (cks) => {
      if (!cks.some((c) => c.id === grid.checkpointId)) grid.checkpointId = cks[0]?.id ?? null;
    },
    { immediate: true },
  );

  /** Shows a run: its detail (checkpoints); what was written for another run is no longer shown. */
  async function open(id: number | null): Promise<void> {
    runId.value = id;
    gridPath.value = null;
    metricsOut.value = null;
    bundleOut.value = null;
    if (!id) return;
    if (!runs.loaded) void runs.refresh();
    // Its covariance heads (issue 13): the shell loads only the newest runs (issue 15).
    void runs.loadChildren(id);
    await runs.loadDetail(id);
  }

  async function exportGrid(): Promise<void> {
    if (!grid.checkpointId || gridInvalid.value) return;
    gridError.value = null;
    gridPath.value = null;
    const req = {
      checkpointId: grid.checkpointId,
      settings: { ...settings.value, n: gridImages.value },
      cols: grid.cols,
      padding: grid.padding,
      labels: grid.labels,
    };
    const label = `Export ${grid.rows}×${grid.cols} grid`;
    const h = useJobsStore().run('export', label, () => api().invoke('export.grid', req));
    gridJob.value = h.job;
    try {
      gridPath.value = (await h.result).path;
    } catch (e) {
      if (!(e instanceof JobCancelled)) gridError.value = toApiError(e);
    }
  }

  async function exportMetrics(): Promise<void> {
    if (!runId.value) return;
    metricsBusy.value = true;
    metricsError.value = null;
    try {
      metricsOut.value = await api().invoke('export.metrics', { runId: runId.value, format: metricsFormat.value });
    } catch (e) {
      metricsError.value = e;
    } finally {
      metricsBusy.value = false;
    }
  }

  async function exportBundle(): Promise<void> {
    if (!runId.value) return;
    bundleBusy.value = true;
    bundleError.value = null;
    try {
      const req = { runId: runId.value, checkpoints: bundleCheckpoints.value };
      bundleOut.value = await api().invoke('export.bundle', req);
    } catch (e) {
      bundleError.value = e;
    } finally {
      bundleBusy.value = false;
    }
  }

  /** Saves a written file through the browser's download (web mode: the file is on the server). */
  async function download(path: string): Promise<void> {
    downloadError.value = null;
    try {
      const a = document.createElement('a');
      a.href = await fileUrl(path);
      a.download = basename(path) || 'download';
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (e) {
      downloadError.value = e;
    }
  }

  return {
    runId,
    detail,
    checkpoints,
    grid,
    settings,
    gridImages,
    gridInvalid,
    heads,
    gridJob,
    gridPath,
    gridError,
    gridBusy,
    metricsFormat,
    metricsOut,
    metricsError,
    metricsBusy,
    bundleCheckpoints,
    bundleOut,
    bundleError,
    bundleBusy,
    downloadError,
    open,
    exportGrid,
    exportMetrics,
    exportBundle,
    download,
  };
});
