/**
 * Parallel coordinates of runs (issue 15): an axis per chosen hyperparameter and a last one for a result, a line
 * per run coloured by that result. Number columns are value axes, text columns category axes of their values.
 */
import type { RunRecord } from '../../../shared/records';
import { isNumericColumn, type RunSortKey } from '../../../shared/runColumns';
import { cellValue, columnLabel } from '../runTable';
import { fmtNum } from '../format';

export interface ParallelData {
  axes: Record<string, unknown>[];
  /** Per run: its value on each axis (a category index for text axes), then its id. */
  lines: { id: number; name: string; value: (number | string | null)[] }[];
  /** The result's range over the runs that have it (null when none has). */
  range: [number, number] | null;
}

export function parallelData(runs: RunRecord[], dims: RunSortKey[], result: RunSortKey): ParallelData {
  const keys = [...dims.filter((d) => d !== result), result];
  const axes = keys.map((key, dim) => {
    const base = { dim, name: columnLabel(key), nameTextStyle: { fontSize: 11 } };
    if (isNumericColumn(key)) return { ...base, type: 'value', scale: true };
    const cats = [...new Set(runs.map((r) => String(cellValue(r, key) ?? '—')))].sort();
    return { ...base, type: 'category', data: cats };
  });
  const lines = runs.map((r) => ({
    id: r.id,
    name: `#${r.id} ${r.name}`,
    value: keys.map((k) => {
      const v = cellValue(r, k);
      return isNumericColumn(k) ? (typeof v === 'number' ? v : null) : String(v ?? '—');
    }),
  }));
  const rs = lines.map((l) => l.value[keys.length - 1]).filter((v): v is number => typeof v === 'number');
  return { axes, lines, range: rs.length ? [Math.min(...rs), Math.max(...rs)] : null };
}

/** The ECharts option: the lines coloured by the result (the last axis) from low (blue) to high (red). */
export function parallelOption(d: ParallelData, dark: boolean): Record<string, unknown> {
  const [min, max] = d.range ?? [0, 1];
  const text = dark ? '#c3c9d4' : '#4b5563';
  return {
    animation: false,
    parallel: { left: 40, right: 90, top: 34, bottom: 24, parallelAxisDefault: { nameGap: 12 } },
    parallelAxis: d.axes,
    visualMap: {
      show: d.range !== null,
      type: 'continuous',
      dimension: d.axes.length - 1,
      min,
      max: max > min ? max : min + 1e-12,
      right: 4,
      top: 'middle',
      itemHeight: 120,
      itemWidth: 10,
      calculable: false,
      text: [fmtNum(max, 3), fmtNum(min, 3)],
      textStyle: { fontSize: 10, color: text },
      inRange: { color: ['#2563eb', '#a855f7', '#dc2626'] },
      outOfRange: { color: ['#9ca3af'] },
    },
    series: [
      {
        id: 'runs',
        type: 'parallel',
        lineStyle: { width: 1.5, opacity: 0.7 },
        emphasis: { disabled: true },
        data: d.lines.map((l) => ({ name: l.name, value: l.value })),
      },
    ],
  };
}
