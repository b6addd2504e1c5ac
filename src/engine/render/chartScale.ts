/**
 * Axis scales and tick values for the PNG line charts (lineChart.ts): linear axes get "nice" ticks
 * (1, 2, 5 × 10^k), log axes their decades (with 2 and 5 between them when the range spans few decades).
 */

export interface Scale {
  log: boolean;
  min: number;
  max: number;
  ticks: number[];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/** A scale over the finite values (positive ones on a log axis); a fallback range when there are none. */
export function makeScale(values: number[], log: boolean, tickCount = 5): Scale {
  const v = values.filter((x) => Number.isFinite(x) && (!log || x > 0));
  let min = v.length ? Math.min(...v) : log ? 1 : 0;
  let max = v.length ? Math.max(...v) : log ? 10 : 1;
  if (log) {
    if (min === max) {
      min /= 2;
      max *= 2;
    }
    const lo = Math.floor(Math.log10(min) + 1e-9);
    const hi = Math.ceil(Math.log10(max) - 1e-9);
    const decades = Math.max(1, hi - lo);
    const mult = decades <= 2 ? [1, 2, 5] : [1];
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) for (const m of mult) ticks.push(m * 10 ** e);
    const inRange = ticks.filter((t) => t >= min * (1 - 1e-9) && t <= max * (1 + 1e-9));
    // Keep the data's own ends as the range: sampling steps 10..100 should fill the axis.
    return { log, min, max, ticks: inRange.length >= 2 ? inRange : [min, max] };
  }
  if (min === max) {
    const d = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= d;
    max += d;
  }
  const pad = (max - min) * 0.05;
  min -= pad;
  max += pad;
  const step = niceStep(max - min, tickCount);
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return { log, min, max, ticks };
}

/** Where a value falls on the scale, 0 at min and 1 at max (NaN for a value a log axis cannot show). */
export function fraction(s: Scale, v: number): number {
  if (s.log) return v > 0 ? (Math.log10(v) - Math.log10(s.min)) / (Math.log10(s.max) - Math.log10(s.min)) : NaN;
  return (v - s.min) / (s.max - s.min);
}

/** A short label for a tick or a value: at most 4 significant digits, an exponent for very large or small. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e', 'E');
  return String(Number(v.toPrecision(4)));
}
