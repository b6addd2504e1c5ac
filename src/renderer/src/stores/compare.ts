/**
 * Compare: two or more checkpoints (of one run or several) sampled with the same seeds and
 * settings, shown side by side under one zoom. Grids already made with the same settings are reused.
 */
import { defineStore } from 'pinia';
import { computed, reactive, ref } from 'vue';
import type { SampleSettings } from '../../../shared/contract';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { useJobsStore, JobCancelled, type Job } from './jobs';
import { defaultSettings, findMatching, resultPath } from './sampling';

export interface Pane {
  key: string;
  runId: number;
  runName: string;
  checkpointId: number;
  step: number;
  job: Job | null;
  path: string | null;
  /** Settings the shown image was made with (null until sampled). */
  madeWith: string | null;
  error: string | null;
}

export const useCompareStore = defineStore('compare', () => {
  const panes = ref<Pane[]>([]);
  /**
   * A ref, not reactive(): the settings form's v-model replaces the whole object, and a replaced
   * reactive() would leave sampleAll reading the old one (it sampled with the defaults).
   */
  const settings = ref<SampleSettings>({ ...defaultSettings(), n: 16 });
  const zoom = reactive({ scale: 1, x: 0, y: 0 });
  const busy = computed(() => panes.value.some((p) => p.job && (p.job.state === 'running' || p.job.state === 'starting' || p.job.state === 'cancelling')));
  const runIds = computed(() => [...new Set(panes.value.map((p) => p.runId))]);

  function add(p: { runId: number; runName: string; checkpointId: number; step: number }): void {
    const key = `${p.runId}:${p.checkpointId}`;
    if (panes.value.some((x) => x.key === key)) return;
    panes.value.push({ ...p, key, job: null, path: null, madeWith: null, error: null });
  }

  function remove(key: string): void {
    panes.value = panes.value.filter((p) => p.key !== key);
  }

  function clear(): void {
    panes.value = [];
  }

  /** Samples every pane with the current settings (reusing identical grids). */
  async function sampleAll(): Promise<void> {
    const jobs = useJobsStore();
    const s: SampleSettings = { ...settings.value };
    const sig = JSON.stringify(s);
    const lists = new Map<number, Awaited<ReturnType<typeof listSamples>>>();
    await Promise.all(
      panes.value.map(async (pane) => {
        pane.error = null;
        try {
          if (!lists.has(pane.runId)) lists.set(pane.runId, await listSamples(pane.runId));
          const hit = findMatching(lists.get(pane.runId)!, pane.checkpointId, s);
          if (hit) {
            pane.path = hit.path;
            pane.madeWith = sig;
            pane.job = null;
            return;
          }
          const h = jobs.run('sample', `Sample ${pane.runName} @ step ${pane.step}`, () => api().invoke('samples.generate', { checkpointId: pane.checkpointId, settings: s }));
          pane.job = h.job;
          const r = await h.result;
          const path = resultPath(r);
          if (!path) throw new Error('the sampling job finished without an image path');
          pane.path = path;
          pane.madeWith = sig;
        } catch (e) {
          if (!(e instanceof JobCancelled)) pane.error = toApiError(e).message;
        }
      }),
    );
  }

  function listSamples(runId: number) {
    return api().invoke('samples.list', { runId });
  }

  async function cancelAll(): Promise<void> {
    const jobs = useJobsStore();
    await Promise.all(panes.value.map((p) => (p.job ? jobs.cancel(p.job).catch(() => undefined) : undefined)));
  }

  function resetZoom(): void {
    zoom.scale = 1;
    zoom.x = 0;
    zoom.y = 0;
  }

  /** Zooms all panes about a point given in pane-relative coordinates (0..1). */
  function zoomAt(factor: number, fx: number, fy: number, paneW: number, paneH: number): void {
    const next = Math.min(32, Math.max(1, zoom.scale * factor));
    const k = next / zoom.scale;
    // Keep the content point under the cursor fixed: p' = c - k (c - p).
    const cx = fx * paneW;
    const cy = fy * paneH;
    zoom.x = cx - k * (cx - zoom.x);
    zoom.y = cy - k * (cy - zoom.y);
    zoom.scale = next;
    clamp(paneW, paneH);
  }

  function pan(dx: number, dy: number, paneW: number, paneH: number): void {
    zoom.x += dx;
    zoom.y += dy;
    clamp(paneW, paneH);
  }

  function clamp(w: number, h: number): void {
    if (zoom.scale <= 1) {
      resetZoom();
      return;
    }
    zoom.x = Math.min(0, Math.max(w - w * zoom.scale, zoom.x));
    zoom.y = Math.min(0, Math.max(h - h * zoom.scale, zoom.y));
  }

  return { panes, settings, zoom, busy, runIds, add, remove, clear, sampleAll, cancelAll, resetZoom, zoomAt, pan, errorOf: toApiError };
});
