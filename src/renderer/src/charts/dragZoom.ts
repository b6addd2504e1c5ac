/**
 * Drag a range across a chart to zoom to it (issue 15): the box follows the mouse (positioned through the CSSOM,
 * which the CSP allows), and on release its ends become x values through the chart's own pixel conversion.
 */
import { ref, type Ref } from 'vue';
import type { ECharts } from 'echarts/core';

export interface ZoomRange {
  start: number;
  end: number;
}

/** Drags shorter than this many pixels are clicks (the tooltip's). */
const MIN_DRAG_PX = 6;

export function useDragZoom(chart: () => ECharts | null, apply: (range: ZoomRange) => void) {
  const active = ref(false);
  let box: HTMLElement | null = null;
  let x0 = 0;
  let left = 0;

  function boxRef(el: unknown): void {
    box = el instanceof HTMLElement ? el : null;
  }

  function place(x: number): void {
    if (!box) return;
    box.style.left = `${Math.min(x0, x) - left}px`;
    box.style.width = `${Math.abs(x - x0)}px`;
  }

  function down(e: MouseEvent): void {
    const c = chart();
    const host = e.currentTarget as HTMLElement | null;
    if (!c || !host || e.button !== 0) return;
    left = host.getBoundingClientRect().left;
    const px = e.clientX - left;
    // Only inside the plot area (not on the axis labels).
    if (!c.containPixel({ gridIndex: 0 }, [px, e.clientY - host.getBoundingClientRect().top])) return;
    x0 = e.clientX;
    const move = (m: MouseEvent) => {
      if (!active.value && Math.abs(m.clientX - x0) >= MIN_DRAG_PX) active.value = true;
      if (active.value) place(m.clientX);
    };
    const up = (u: MouseEvent) => {
      window.removeEventListener('mousemove', move, true);
      window.removeEventListener('mouseup', up, true);
      const was = active.value;
      active.value = false;
      if (!was || Math.abs(u.clientX - x0) < MIN_DRAG_PX) return;
      const toX = (clientX: number) => Number(c.convertFromPixel({ xAxisIndex: 0 }, clientX - left));
      const [a, b] = [toX(x0), toX(u.clientX)].sort((p, q) => p - q) as [number, number];
      if (Number.isFinite(a) && Number.isFinite(b) && b > a) apply({ start: a, end: b });
    };
    // Captured at the window: the chart's own handlers stop mousemove from bubbling out of the canvas.
    window.addEventListener('mousemove', move, true);
    window.addEventListener('mouseup', up, true);
  }

  return { active: active as Ref<boolean>, boxRef, down };
}

/** What a chart's dataZoom holds after an action: x values (a drag, a kept zoom) or percentages (wheel, keys). */
export interface DataZoomState {
  start?: number | null;
  end?: number | null;
  startValue?: number | null;
  endValue?: number | null;
}

/**
 * The zoomed x range, or null when the whole axis shows. After an action ECharts reports percentages of the data's
 * x extent and usually the x values too; the percentages say whether all of it shows (the values then are the
 * extent of the data drawn, which is a zoomed window's while its full-detail points are shown). Percentages
 * without values are turned into values over `extent`.
 */
export function zoomRangeOf(dz: DataZoomState, extent: [number, number] | null): ZoomRange | null {
  const num = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
  const s = num(dz.start) ? dz.start : null;
  const e = num(dz.end) ? dz.end : null;
  if (s !== null && e !== null && s <= 0 && e >= 100) return null;
  if (num(dz.startValue) && num(dz.endValue)) return { start: dz.startValue, end: dz.endValue };
  if (s === null || e === null || !extent) return null;
  const [lo, hi] = extent;
  return { start: lo + ((hi - lo) * s) / 100, end: lo + ((hi - lo) * e) / 100 };
}

/** The x extent of lines whose x values ascend (null when none has a point). */
export function xExtent(sources: { steps: ArrayLike<number>; length: number }[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of sources) {
    if (s.length === 0) continue;
    lo = Math.min(lo, s.steps[0]!);
    hi = Math.max(hi, s.steps[s.length - 1]!);
  }
  return lo <= hi ? [lo, hi] : null;
}
