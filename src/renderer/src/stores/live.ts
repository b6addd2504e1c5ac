/**
 * Live training data. Metric series live in growable typed arrays outside Vue's reactivity (a
 * run logs hundreds of thousands of points); incoming run.message events append to them at once,
 * and one animation frame later a single reactive tick tells the charts to redraw. However many
 * messages arrive within a frame, the charts update once.
 */
import { defineStore } from 'pinia';
import { markRaw, ref, shallowRef, triggerRef } from 'vue';
import type { EventPayload } from '../../../shared/contract';
import type { ActivityMessage, ProgressMessage } from '../../../shared/engineMessages';
import type { GapRecord, Series } from '../../../shared/records';
import { PROGRESS_METRICS, RECORDED_METRICS, WALL_TIME_METRIC } from '../../../shared/metricNames';
import { api, onReconnect } from '../api';
import { toApiError } from '../api/errors';

/** A growable (step, value) column pair. */
export class Column {
  steps: Float64Array;
  values: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.steps = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }
  push(step: number, value: number): void {
    if (this.length === this.steps.length) {
      const cap = this.steps.length * 2;
      const s = new Float64Array(cap);
      const v = new Float64Array(cap);
      s.set(this.steps);
      v.set(this.values);
      this.steps = s;
      this.values = v;
    }
    this.steps[this.length] = step;
    this.values[this.length] = value;
    this.length++;
  }
  get lastStep(): number {
    return this.length ? this.steps[this.length - 1]! : -Infinity;
  }
  static from(s: Pick<Series, 'steps' | 'values'>): Column {
    const c = new Column(Math.max(1024, s.steps.length * 2));
    for (let i = 0; i < s.steps.length; i++) c.push(s.steps[i]!, s.values[i]!);
    return c;
  }
}

export class RunSeries {
  readonly columns = new Map<string, Column>();
  /** Bumped whenever any column of this run changed. */
  version = 0;
  column(name: string): Column {
    let c = this.columns.get(name);
    if (!c) this.columns.set(name, (c = new Column()));
    return c;
  }
  appendProgress(m: ProgressMessage): void {
    // A resumed run repeats steps after its last checkpoint: drop what is not newer.
    if (m.step <= this.column('loss').lastStep) return;
    for (const name of PROGRESS_METRICS) this.column(name).push(m.step, m[name]);
    if (m.memory.gpuBytes !== undefined) this.column('gpuBytes').push(m.step, m.memory.gpuBytes);
    this.column('tensorBytes').push(m.step, m.memory.numBytes);
    // As the recorder stores it: seconds since the epoch, from the message (else when it arrived).
    this.column(WALL_TIME_METRIC).push(m.step, (m.time ?? Date.now()) / 1000);
    this.version++;
  }
}

/** requestAnimationFrame, replaceable in tests. */
export type FrameScheduler = (cb: () => void) => void;
let scheduleFrame: FrameScheduler = (cb) =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16);
export function setFrameScheduler(f: FrameScheduler): void {
  scheduleFrame = f;
}

export const useLiveStore = defineStore('live', () => {
  const series = markRaw(new Map<number, RunSeries>());
  const gaps = markRaw(new Map<number, GapRecord[]>());
  /** Latest progress per run (updated once per frame). */
  const progress = shallowRef(new Map<number, ProgressMessage>());
  /** What each running run is doing now (sampling 12/50, …); gone when the run ends. */
  const activity = shallowRef(new Map<number, ActivityMessage>());
  /** One increment per animation frame in which anything changed: what charts watch. */
  const tick = ref(0);
  /** Frames flushed and messages received (for tests and the benchmark). */
  const stats = { frames: 0, messages: 0 };
  const loading = ref(new Set<number>());
  const loadErrors = ref(new Map<number, string>());

  const pendingProgress = new Map<number, ProgressMessage>();
  /** null: the run ended, drop its activity. */
  const pendingActivity = new Map<number, ActivityMessage | null>();
  /** Messages that arrived while a run's history was loading. */
  const buffered = new Map<number, EventPayload<'run.message'>['msg'][]>();
  let frameRequested = false;

  function requestFlush(): void {
    if (frameRequested) return;
    frameRequested = true;
    scheduleFrame(flush);
  }

  function flush(): void {
    frameRequested = false;
    stats.frames++;
    if (pendingProgress.size) {
      for (const [id, m] of pendingProgress) progress.value.set(id, m);
      pendingProgress.clear();
      triggerRef(progress);
    }
    if (pendingActivity.size) {
      for (const [id, a] of pendingActivity) {
        if (a) activity.value.set(id, a);
        else activity.value.delete(id);
      }
      pendingActivity.clear();
      triggerRef(activity);
    }
    tick.value++;
  }

  function apply(runId: number, msg: EventPayload<'run.message'>['msg']): void {
    if (msg.type === 'progress') {
      pendingProgress.set(runId, msg);
      series.get(runId)?.appendProgress(msg);
      requestFlush();
    } else if (msg.type === 'activity') {
      pendingActivity.set(runId, msg);
      requestFlush();
    } else if (msg.type === 'finished' || msg.type === 'failed') {
      pendingActivity.set(runId, null);
      requestFlush();
    } else if (msg.type === 'gap') {
      const list = gaps.get(runId);
      if (list && !list.some((g) => g.step === msg.step)) {
        const { step, t0, t, meanAbs, l2, signedMean } = msg;
        list.push({ runId, step, t0, weights: msg.ema ? 'ema' : 'raw', n: msg.n ?? null, t, meanAbs, l2, signedMean });
        const s = series.get(runId);
        if (s) s.version++;
        requestFlush();
      }
    }
  }

  function onMessage({ runId, msg }: EventPayload<'run.message'>): void {
    stats.messages++;
    const buf = buffered.get(runId);
    if (buf) buf.push(msg);
    else apply(runId, msg);
  }

  let subscribed = false;
  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    api().on('run.message', onMessage);
    onReconnect(() => {
      for (const id of [...series.keys()]) void load(id, true);
    });
  }

  /** Loads a run's history (metrics and gap curves) and keeps it current from then on. */
  async function load(runId: number, fresh = false, maxPoints = 20_000): Promise<void> {
    subscribe();
    if (series.has(runId) && !fresh) return;
    if (buffered.has(runId)) return; // already loading
    buffered.set(runId, []);
    loading.value = new Set(loading.value).add(runId);
    try {
      const [ser, gapList] = await Promise.all([
        api().invoke('metrics.series', { runId, names: [...RECORDED_METRICS], maxPoints }),
        api().invoke('gap.list', { runId }),
      ]);
      const rs = new RunSeries();
      for (const s of ser) if (s.steps.length) rs.columns.set(s.name, Column.from(s));
      rs.version = 1;
      series.set(runId, rs);
      gaps.set(
        runId,
        [...gapList].sort((a, b) => a.step - b.step),
      );
      const errs = new Map(loadErrors.value);
      errs.delete(runId);
      loadErrors.value = errs;
    } catch (e) {
      loadErrors.value = new Map(loadErrors.value).set(runId, toApiError(e).message);
      if (!series.has(runId)) {
        series.set(runId, new RunSeries());
        gaps.set(runId, []);
      }
    } finally {
      const buf = buffered.get(runId) ?? [];
      buffered.delete(runId);
      for (const m of buf) apply(runId, m);
      const l = new Set(loading.value);
      l.delete(runId);
      loading.value = l;
      requestFlush();
    }
  }

  function forget(runId: number): void {
    series.delete(runId);
    gaps.delete(runId);
  }

  return {
    series,
    gaps,
    progress,
    activity,
    tick,
    stats,
    loading,
    loadErrors,
    load,
    forget,
    subscribe,
    onMessage,
    flush,
  };
});
