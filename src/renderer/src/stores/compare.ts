/**
 * Compare: two or more checkpoints (of one run or several) sampled with the same seeds and
 * settings, shown side by side under one zoom, and the curves of the runs compared. Grids already
 * made with the same settings are reused.
 */
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import type { SampleSettings } from '../../../shared/contract';
import type { CheckpointRecord, GapRecord, Series } from '../../../shared/records';
import { api } from '../api';
import { ApiCallError, toApiError } from '../api/errors';
import { useJobsStore, JobCancelled, type Job } from './jobs';
import { useRunsStore } from './runs';
import { defaultSettings, findMatching } from '../sampleSettings';
import { latestGap } from '../charts/gap';

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

const ACTIVE: Job['state'][] = ['running', 'starting', 'cancelling'];

export const useCompareStore = defineStore('compare', () => {
  const panes = ref<Pane[]>([]);
  /**
   * A ref, not reactive(): the settings form's v-model replaces the whole object, and a replaced
   * reactive() would leave sampleAll reading the old one (it sampled with the defaults).
   */
  const settings = ref<SampleSettings>({ ...defaultSettings(), n: 16 });
  const zoom = reactive({ scale: 1, x: 0, y: 0 });
  const busy = computed(() => panes.value.some((p) => p.job && ACTIVE.includes(p.job.state)));
  /** Runs whose curves are compared without a pane (issue 15: a selection from the experiment table). */
  const curveRunIds = ref<number[]>([]);
  const runIds = computed(() => [...new Set([...panes.value.map((p) => p.runId), ...curveRunIds.value])]);
  /** Some pane shows a grid made with other settings than the form's. */
  const stale = computed(() => {
    const sig = JSON.stringify({ ...settings.value });
    return panes.value.some((p) => p.path && p.madeWith !== sig);
  });

  // --- choosing a checkpoint to add -------------------------------------------------------------
  const pickRunId = ref<number | null>(null);
  const pickCheckpoints = shallowRef<CheckpointRecord[]>([]);
  const pickCheckpointId = ref<number | null>(null);
  const pickError = ref<unknown>(null);

  /** Lists a run's checkpoints (newest first) for the picker. */
  async function pickRun(id: number | null): Promise<void> {
    pickRunId.value = id;
    pickCheckpoints.value = [];
    pickCheckpointId.value = null;
    if (!id) return;
    try {
      const d = await useRunsStore().getDetail(id, true);
      if (pickRunId.value !== id) return;
      pickCheckpoints.value = [...d.checkpoints].sort((a, b) => b.step - a.step);
      pickCheckpointId.value = pickCheckpoints.value[0]?.id ?? null;
      pickError.value = null;
    } catch (e) {
      pickError.value = e;
    }
  }

  /** Adds the picked checkpoint as a pane. */
  function addPicked(): void {
    const ck = pickCheckpoints.value.find((c) => c.id === pickCheckpointId.value);
    const r = pickRunId.value ? useRunsStore().get(pickRunId.value) : undefined;
    if (ck && r) add({ runId: r.id, runName: r.name || `#${r.id}`, checkpointId: ck.id, step: ck.step });
  }

  function add(p: { runId: number; runName: string; checkpointId: number; step: number }): void {
    const key = `${p.runId}:${p.checkpointId}`;
    if (panes.value.some((x) => x.key === key)) return;
    panes.value.push({ ...p, key, job: null, path: null, madeWith: null, error: null });
  }

  function remove(key: string): void {
    panes.value = panes.value.filter((p) => p.key !== key);
  }

  /** Takes a run out of the comparison: its panes and its curves. */
  function removeRun(id: number): void {
    panes.value = panes.value.filter((p) => p.runId !== id);
    curveRunIds.value = curveRunIds.value.filter((x) => x !== id);
  }

  function clear(): void {
    panes.value = [];
    curveRunIds.value = [];
  }

  // --- a selection of runs (issue 15) -----------------------------------------------------------
  const opening = ref(false);
  /** What opening a selection could not do (a run without checkpoints, a run that is gone). */
  const openNotes = ref<string[]>([]);

  /**
   * A new comparison of the runs `ids` (in the order selected): the latest checkpoints of the first two runs that
   * have one side by side, the curves of every run. The picker shows the checkpoints of the first pane's run.
   */
  let openSeq = 0;
  async function openRuns(ids: number[]): Promise<void> {
    const runs = useRunsStore();
    const my = ++openSeq;
    opening.value = true;
    openNotes.value = [];
    panes.value = [];
    const wanted = [...new Set(ids)];
    curveRunIds.value = wanted;
    try {
      const details = await Promise.all(
        wanted.map((id) => runs.getDetail(id, true).catch((e: unknown) => toApiError(e, 'runs.get'))),
      );
      if (my !== openSeq) return;
      const notes: string[] = [];
      let shown = 0;
      details.forEach((d, i) => {
        const id = wanted[i]!;
        if (d instanceof ApiCallError) {
          notes.push(`run #${id}: ${d.message}`);
          curveRunIds.value = curveRunIds.value.filter((x) => x !== id);
          return;
        }
        runs.upsert(d.run);
        if (shown === 2) return;
        const last = [...d.checkpoints].sort((a, b) => b.step - a.step)[0];
        if (!last) {
          notes.push(`#${id} ${d.run.name} has no checkpoint yet: its curves only`);
          return;
        }
        add({ runId: id, runName: d.run.name || `#${id}`, checkpointId: last.id, step: last.step });
        shown++;
      });
      openNotes.value = notes;
      // The picker on the first run shown in a pane (to add its other checkpoints), else the first selected.
      const first = panes.value[0]?.runId ?? curveRunIds.value[0];
      if (first !== undefined) void pickRun(first);
    } finally {
      if (my === openSeq) opening.value = false;
    }
  }

  // --- sampling ---------------------------------------------------------------------------------
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
          const label = `Sample ${pane.runName} @ step ${pane.step}`;
          const h = jobs.run('sample', label, () =>
            api().invoke('samples.generate', { checkpointId: pane.checkpointId, settings: s }),
          );
          pane.job = h.job;
          pane.path = (await h.result).path;
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

  // --- the curves of the runs compared ----------------------------------------------------------
  const metric = ref('loss');
  const curves = shallowRef<{ runId: number; series: Series }[]>([]);
  const gaps = shallowRef(new Map<number, GapRecord>());
  const curveError = ref<unknown>(null);

  /** Loads `metric` and the latest gap curve of every run that has a pane. */
  async function loadCurves(): Promise<void> {
    const ids = runIds.value;
    if (ids.length === 0) {
      curves.value = [];
      gaps.value = new Map();
      return;
    }
    try {
      curves.value = await api().invoke('metrics.overlay', { runIds: ids, name: metric.value, maxPoints: 5000 });
      const lists = await Promise.all(ids.map((id) => api().invoke('gap.list', { runId: id })));
      const m = new Map<number, GapRecord>();
      ids.forEach((id, i) => {
        const last = latestGap(lists[i]!);
        if (last) m.set(id, last);
      });
      gaps.value = m;
      curveError.value = null;
    } catch (e) {
      curveError.value = toApiError(e);
    }
  }

  // --- one zoom for all panes ---------------------------------------------------------------------
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

  return {
    panes,
    settings,
    zoom,
    busy,
    runIds,
    stale,
    pickRunId,
    pickCheckpoints,
    pickCheckpointId,
    pickError,
    pickRun,
    addPicked,
    add,
    remove,
    removeRun,
    clear,
    curveRunIds,
    opening,
    openNotes,
    openRuns,
    sampleAll,
    cancelAll,
    metric,
    curves,
    gaps,
    curveError,
    loadCurves,
    resetZoom,
    zoomAt,
    pan,
  };
});
