/**
 * The monitor of one run: which run it shows (its history and live data come from the live store),
 * other runs overlaid on its charts (their curves fetched here; they do not stream), and the runs the
 * legend has hidden.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { GapRecord, Series } from '../../../shared/records';
import { api } from '../api';
import { toApiError } from '../api/errors';
import { PALETTE } from '../charts/palette';
import { latestGap } from '../charts/gap';
import { Column, useLiveStore } from './live';
import { useRunsStore } from './runs';
import { RECORDED_METRICS } from '../../../shared/metricNames';
/** Most runs overlaid at once (the palette separates 20 colours, the shown run included). */
const MAX_OVERLAYS = 19;

export const useMonitorStore = defineStore('monitor', () => {
  const runs = useRunsStore();
  const live = useLiveStore();
  const runId = ref<number | null>(null);
  const overlayIds = ref<number[]>([]);
  /** Runs the legend has hidden from the charts (this run or overlaid ones). */
  const hiddenIds = ref<number[]>([]);
  /** metric name → one series per overlaid run. */
  const overlaySeries = shallowRef(new Map<string, { runId: number; series: Series }[]>());
  /** Latest gap evaluation per overlaid run. */
  const overlayGaps = shallowRef(new Map<number, GapRecord>());
  const overlayError = ref<unknown>(null);
  let overlaySeq = 0;
  /**
   * Zoomed charts (issue 15): per metric, the step range of each run shown and its points there at full detail
   * from the store's summary (a long run's loaded history is downsampled).
   */
  const windows = shallowRef(new Map<string, Map<number, Column>>());
  const windowSeq = new Map<string, number>();

  const run = computed(() => (runId.value ? (runs.get(runId.value) ?? null) : null));
  /** The run's metric columns (re-read once per animation frame in which data arrived). */
  const series = computed(() => {
    void live.tick;
    return runId.value ? (live.series.get(runId.value) ?? null) : null;
  });
  const progress = computed(() => (runId.value ? (live.progress.get(runId.value) ?? null) : null));
  const gapRecords = computed<GapRecord[]>(() => {
    void live.tick;
    return runId.value ? [...(live.gaps.get(runId.value) ?? [])] : [];
  });
  /** Backends without a GPU memory figure report tensor bytes instead. */
  const memoryMetric = computed<'gpuBytes' | 'tensorBytes'>(() => {
    const g = series.value?.columns.get('gpuBytes');
    return g && g.length ? 'gpuBytes' : 'tensorBytes';
  });
  const detail = computed(() => (runs.detail?.run.id === runId.value ? runs.detail : null));
  const historyError = computed(() => (runId.value ? (live.loadErrors.get(runId.value) ?? null) : null));

  /** Shows a run: its record, detail and full history (then kept current by events), with `overlay` overlaid. */
  async function open(id: number | null, overlay: number[] = []): Promise<void> {
    runId.value = id;
    overlayIds.value = overlay.filter((o) => o !== id).slice(0, MAX_OVERLAYS);
    hiddenIds.value = [];
    overlaySeries.value = new Map();
    overlayGaps.value = new Map();
    overlayError.value = null;
    windows.value = new Map();
    if (!id) return;
    if (!runs.loaded) await runs.refresh();
    void runs.loadDetail(id);
    if (overlayIds.value.length) {
      // Their names and statuses, for the legend: the shell loads only the newest runs (issue 15).
      void runs.ensure(overlayIds.value).catch((e: unknown) => (overlayError.value = toApiError(e, 'runs.list')));
      void loadOverlays();
    }
    await live.load(id, true);
  }

  /**
   * A chart of `metric` zoomed to a step range per run (null: zoomed out): fetches those ranges at full detail.
   */
  async function zoomTo(metric: string, ranges: Map<number, { from: number; to: number }> | null): Promise<void> {
    const seq = (windowSeq.get(metric) ?? 0) + 1;
    windowSeq.set(metric, seq);
    if (!ranges || ranges.size === 0) {
      if (!windows.value.has(metric)) return;
      const next = new Map(windows.value);
      next.delete(metric);
      windows.value = next;
      return;
    }
    try {
      const parts = await Promise.all(
        [...ranges].map(([rid, r]) =>
          api().invoke('metrics.window', { runIds: [rid], names: [metric], from: r.from, to: r.to, maxPoints: 2000 }),
        ),
      );
      if (windowSeq.get(metric) !== seq) return;
      const byRun = new Map<number, Column>();
      for (const p of parts.flat()) byRun.set(p.runId, Column.from(p.series));
      windows.value = new Map(windows.value).set(metric, byRun);
    } catch (e) {
      if (windowSeq.get(metric) === seq) overlayError.value = toApiError(e);
    }
  }

  /** (Re)fetches the overlaid runs' curves and latest gap evaluations. */
  async function loadOverlays(): Promise<void> {
    const my = ++overlaySeq;
    const ids = [...overlayIds.value];
    overlayError.value = null;
    if (ids.length === 0) {
      overlaySeries.value = new Map();
      overlayGaps.value = new Map();
      return;
    }
    try {
      const results = await Promise.all(
        RECORDED_METRICS.map((name) => api().invoke('metrics.overlay', { runIds: ids, name, maxPoints: 5000 })),
      );
      const gapLists = await Promise.all(ids.map((rid) => api().invoke('gap.list', { runId: rid })));
      if (my !== overlaySeq) return;
      overlaySeries.value = new Map(RECORDED_METRICS.map((n, i) => [n, results[i]!]));
      const m = new Map<number, GapRecord>();
      ids.forEach((rid, i) => {
        const last = latestGap(gapLists[i]!);
        if (last) m.set(rid, last);
      });
      overlayGaps.value = m;
    } catch (e) {
      if (my === overlaySeq) overlayError.value = toApiError(e);
    }
  }

  function toggleOverlay(id: number): void {
    const on = overlayIds.value.includes(id);
    overlayIds.value = on ? overlayIds.value.filter((x) => x !== id) : [...overlayIds.value, id].slice(0, MAX_OVERLAYS);
    hiddenIds.value = hiddenIds.value.filter((x) => x !== id);
    void loadOverlays();
  }

  /** A run's colour in every chart and the legend: the shown run first, overlays in the order added. */
  function colorOf(id: number): string {
    const i = id === runId.value ? 0 : overlayIds.value.indexOf(id) + 1;
    return PALETTE[i % PALETTE.length]!;
  }

  /** A run's name for legends (its number when it has none). */
  function nameOf(id: number): string {
    return runs.get(id)?.name || `#${id}`;
  }

  function toggleHidden(id: number): void {
    const hidden = hiddenIds.value.includes(id);
    hiddenIds.value = hidden ? hiddenIds.value.filter((x) => x !== id) : [...hiddenIds.value, id];
  }

  /** Overlaid runs still training get their curves re-fetched every `everyMs`; returns the stopper. */
  function followOverlays(everyMs = 15_000): () => void {
    const timer = setInterval(() => {
      if (overlayIds.value.some((id) => runs.get(id)?.status === 'running')) void loadOverlays();
    }, everyMs);
    return () => clearInterval(timer);
  }

  return {
    runId,
    run,
    series,
    progress,
    gapRecords,
    memoryMetric,
    detail,
    historyError,
    overlayIds,
    hiddenIds,
    overlaySeries,
    overlayGaps,
    overlayError,
    windows,
    open,
    loadOverlays,
    toggleOverlay,
    toggleHidden,
    followOverlays,
    colorOf,
    nameOf,
    zoomTo,
  };
});
