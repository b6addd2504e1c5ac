/**
 * The charts' x axis as step, time since the run's first logged step, or wall time (issue 15). A run's clock is
 * its 'wallTime' series (seconds since the epoch per logged step, written by the recorder); a line is mapped
 * through its own run's clock, so runs started at different times line up by elapsed time. Runs recorded before
 * the clock existed have none: they stay on steps (the chart says which).
 */
import { fmtDuration, fmtNum } from '../format';
import type { LineSource } from './lineModel';

export const X_MODES = ['step', 'relative', 'wall'] as const;
export type XMode = (typeof X_MODES)[number];

export const X_MODE_LABELS: Record<XMode, string> = { step: 'Step', relative: 'Relative time', wall: 'Wall time' };

/** The index of the last clock point at or before `step` (-1 when none). */
function floorIndex(xs: ArrayLike<number>, n: number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** Linear interpolation of ys over xs (ascending) at x, clamped to the ends; NaN when empty. */
export function interpolate(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number, x: number): number {
  if (n === 0) return NaN;
  const i = floorIndex(xs, n, x);
  if (i < 0) return ys[0]!;
  if (i >= n - 1) return ys[n - 1]!;
  const x0 = xs[i]!;
  const x1 = xs[i + 1]!;
  return x1 === x0 ? ys[i]! : ys[i]! + ((ys[i + 1]! - ys[i]!) * (x - x0)) / (x1 - x0);
}

/** A run's seconds at a step (wall clock, or since its first logged step). */
export function timeAtStep(clock: LineSource, step: number, mode: Exclude<XMode, 'step'>): number {
  const t = interpolate(clock.steps, clock.values, clock.length, step);
  return mode === 'relative' ? t - clock.values[0]! : t;
}

/** The step a run had reached at a time on the axis (the inverse of timeAtStep). */
export function stepAtTime(clock: LineSource, x: number, mode: Exclude<XMode, 'step'>): number {
  const t = mode === 'relative' ? x + clock.values[0]! : x;
  return interpolate(clock.values, clock.steps, clock.length, t);
}

/**
 * A line source whose x is time: the source's steps mapped through the run's clock, extended as either grows
 * (a live run), with the steps kept as rawSteps for tooltips and downloads.
 */
export class TimeMappedSource implements LineSource {
  private times = new Float64Array(0);
  private mapped = 0;
  private clockSeen = 0;

  constructor(
    readonly src: LineSource,
    readonly clock: LineSource,
    readonly mode: Exclude<XMode, 'step'>,
  ) {}

  get length(): number {
    this.sync();
    return this.src.length;
  }
  get steps(): ArrayLike<number> {
    this.sync();
    return this.times;
  }
  get values(): ArrayLike<number> {
    return this.src.values;
  }
  get rawSteps(): ArrayLike<number> {
    return this.src.steps;
  }

  private sync(): void {
    const n = this.src.length;
    // Points past the clock's end were clamped to its last time: map them again once the clock has grown.
    if (this.clock.length !== this.clockSeen) {
      const lastClockStep = this.clockSeen ? this.clock.steps[this.clockSeen - 1]! : -Infinity;
      while (this.mapped > 0 && this.src.steps[this.mapped - 1]! > lastClockStep) this.mapped--;
      if (this.clockSeen === 0) this.mapped = 0;
      this.clockSeen = this.clock.length;
    }
    if (n < this.mapped) this.mapped = 0;
    if (this.times.length < n) {
      const t = new Float64Array(Math.max(1024, n * 2));
      t.set(this.times.subarray(0, this.mapped));
      this.times = t;
    }
    for (let i = this.mapped; i < n; i++) this.times[i] = timeAtStep(this.clock, this.src.steps[i]!, this.mode);
    this.mapped = n;
  }
}

const cache = new WeakMap<LineSource, Map<string, TimeMappedSource>>();

/**
 * The source as the axis shows it: itself for steps (or when its run has no clock), else one mapped source per
 * (source, clock, mode), the same object every frame so the chart prepares only what is new.
 */
export function onAxis(src: LineSource, clock: LineSource | undefined, mode: XMode): LineSource {
  if (mode === 'step' || !clock || clock.length === 0) return src;
  let byKey = cache.get(src);
  if (!byKey) cache.set(src, (byKey = new Map()));
  const hit = byKey.get(mode);
  if (hit && hit.clock === clock) return hit;
  const m = new TimeMappedSource(src, clock, mode);
  byKey.set(mode, m);
  return m;
}

/** Tick labels and axis titles per mode. */
export function xFormat(mode: XMode): { fmt: (x: number) => string; name: string; label: string } {
  if (mode === 'step') return { fmt: (x) => fmtNum(x), name: 'Step', label: 'step' };
  if (mode === 'relative') return { fmt: (x) => fmtDuration(x), name: 'Time since the first step (s)', label: 'time' };
  return {
    fmt: (x) =>
      new Date(x * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
    name: 'Wall time (local)',
    label: 'time',
  };
}
