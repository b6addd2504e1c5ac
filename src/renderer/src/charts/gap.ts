/** Gap-monitor data shaping: curves for the line chart and binning for the heatmap. */
import type { GapRecord } from '../../../shared/records';

export type GapMeasure = 'meanAbs' | 'l2' | 'signedMean';
export const GAP_MEASURES: { value: GapMeasure; label: string }[] = [
  { value: 'meanAbs', label: 'mean |D_t|' },
  { value: 'l2', label: '‖D_t‖' },
  { value: 'signedMean', label: 'signed mean D_t' },
];

export interface GapCurve {
  id: string;
  name: string;
  t: number[];
  y: number[];
  color: string;
  width?: number;
  dashed?: boolean;
  opacity?: number;
}

/** The evaluation made at the latest training step, if any. */
export function latestGap(list: readonly GapRecord[]): GapRecord | null {
  return list.reduce<GapRecord | null>((a, g) => (!a || g.step > a.step ? g : a), null);
}

/**
 * The final gap of an evaluation: mean |D_t| at the smallest t (t runs from t0 - 1 down to 1), or null.
 */
export function finalGap(g: GapRecord | null): number | null {
  if (!g || !g.meanAbs.length) return null;
  let iMin = 0;
  g.t.forEach((t, i) => {
    if (t < g.t[iMin]!) iMin = i;
  });
  return g.meanAbs[iMin] ?? null;
}

/** Bins t into at most maxBins rows (mean per bin), t ascending. */
export function binGap(records: GapRecord[], measure: 'meanAbs' | 'l2' | 'signedMean', maxBins: number) {
  const last = records[records.length - 1];
  if (!last) {
    return { rows: [] as string[], cols: [] as string[], cells: [] as [number, number, number][], min: 0, max: 1 };
  }
  const tMax = Math.max(...last.t);
  const tMin = Math.min(...last.t);
  const span = tMax - tMin + 1;
  const bins = Math.min(maxBins, span);
  const width = span / bins;
  const rows = Array.from({ length: bins }, (_, b) => {
    const lo = Math.round(tMin + b * width);
    const hi = Math.round(tMin + (b + 1) * width) - 1;
    return lo === hi || hi < lo ? String(lo) : `${lo}–${hi}`;
  });
  const cells: [number, number, number][] = [];
  let min = Infinity;
  let max = -Infinity;
  records.forEach((r, x) => {
    const sum = new Float64Array(bins);
    const cnt = new Uint32Array(bins);
    const ys = r[measure];
    for (let i = 0; i < r.t.length; i++) {
      const b = Math.min(bins - 1, Math.max(0, Math.floor((r.t[i]! - tMin) / width)));
      const v = ys[i];
      if (v === undefined || !Number.isFinite(v)) continue;
      sum[b] = sum[b]! + v;
      cnt[b] = cnt[b]! + 1;
    }
    for (let b = 0; b < bins; b++) {
      if (!cnt[b]) continue;
      const v = sum[b]! / cnt[b]!;
      cells.push([x, b, v]);
      if (v < min) min = v;
      if (v > max) max = v;
    }
  });
  const cols = records.map((r) => String(r.step));
  return { rows, cols, cells, min: Number.isFinite(min) ? min : 0, max: Number.isFinite(max) ? max : 1 };
}
