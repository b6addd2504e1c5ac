/**
 * Line charts as PNG for exported reports (no browser, no canvas): axes with ticks and grid lines, linear or
 * log scales, one polyline per series with point markers, a legend, and text in the 5x7 bitmap font
 * (upper-case ASCII). pngjs encodes, as for the sample grids.
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../../io/atomicFile';
import { ADVANCE, drawText, GLYPH_H, textWidth } from './bitmapFont';
import { formatTick, fraction, makeScale, type Scale } from './chartScale';

export type Rgb = [number, number, number];

export interface ChartSeries {
  name: string;
  /** '#rrggbb' or an RGB triple. */
  color: string | Rgb;
  /** [x, y]; a null y breaks the line. */
  points: [number, number | null][];
  dashed?: boolean;
}

export interface LineChartOptions {
  width?: number;
  height?: number;
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  /** Draw x from right to left (the gap's t runs down the reverse chain). */
  reverseX?: boolean;
  /** A horizontal reference line (e.g. a ratio of 1). */
  refY?: number;
  series: ChartSeries[];
}

export interface ChartLayout {
  width: number;
  height: number;
  plot: { left: number; top: number; right: number; bottom: number };
  x: Scale;
  y: Scale;
  reverseX: boolean;
}

const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [228, 231, 235];
const AXIS: Rgb = [150, 155, 165];
const MUTED: Rgb = [90, 95, 105];
const LEGEND_ROW = GLYPH_H + 6;

export function parseColor(c: string | Rgb): Rgb {
  if (Array.isArray(c)) return c;
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) throw new Error(`chart: colour '${c}' is not #rrggbb`);
  const n = parseInt(m[1]!, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The plot area and scales of a chart (what renderLineChart draws into), for callers and tests. */
export function chartLayout(o: LineChartOptions): ChartLayout {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 160 || height < 120) {
    throw new Error(`chart: size must be integers of at least 160x120, got ${width}x${height}`);
  }
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]).filter((v): v is number => v !== null));
  if (o.refY !== undefined) ys.push(o.refY);
  const x = makeScale(xs, o.logX ?? false, 6);
  const y = makeScale(ys, o.logY ?? false, 5);
  const yLabelW = Math.max(...y.ticks.map((t) => textWidth(formatTick(t), 1)), 0);
  const top = 8 + (o.title ? 2 * GLYPH_H + 8 : 0) + (o.yLabel ? GLYPH_H + 6 : 0);
  const legendRows = o.series.length > 0 ? Math.ceil(o.series.length / legendColumns(o, width)) : 0;
  const bottom = height - (GLYPH_H + 10) - (o.xLabel ? GLYPH_H + 6 : 0) - legendRows * LEGEND_ROW - 6;
  const plot = { left: 10 + yLabelW + 6, top, right: width - 16, bottom };
  if (plot.bottom - plot.top < 40)
    throw new Error(`chart: ${height} px is too short for ${o.series.length} legend rows`);
  return { width, height, plot, x, y, reverseX: o.reverseX ?? false };
}

function legendColumns(o: LineChartOptions, width: number): number {
  const widest = Math.max(0, ...o.series.map((s) => textWidth(s.name, 1))) + 28;
  return Math.max(1, Math.floor((width - 20) / widest));
}

/** The pixel of a data point (fractional), or null where the scales cannot place it. */
export function project(l: ChartLayout, px: number, py: number): [number, number] | null {
  let fx = fraction(l.x, px);
  const fy = fraction(l.y, py);
  if (!Number.isFinite(fx) || !Number.isFinite(fy)) return null;
  if (l.reverseX) fx = 1 - fx;
  const { left, right, top, bottom } = l.plot;
  return [left + fx * (right - left), bottom - fy * (bottom - top)];
}

class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 4).fill(255);
  }
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    this.data[o] = c[0];
    this.data[o + 1] = c[1];
    this.data[o + 2] = c[2];
  }
  rect(x0: number, y0: number, w: number, h: number, c: Rgb): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }
  /** A line of `thick` px, clipped to `clip`; dashed lines skip every other 6 px. */
  line(a: [number, number], b: [number, number], c: Rgb, thick = 1, dashed = false, clip?: ChartLayout['plot']): void {
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const n = Math.max(1, Math.ceil(len * 2));
    for (let i = 0; i <= n; i++) {
      if (dashed && Math.floor(i / 2 / 6) % 2 === 1) continue;
      const x = a[0] + ((b[0] - a[0]) * i) / n;
      const y = a[1] + ((b[1] - a[1]) * i) / n;
      if (clip && (x < clip.left - 1 || x > clip.right + 1 || y < clip.top - 1 || y > clip.bottom + 1)) continue;
      for (let dy = 0; dy < thick; dy++)
        for (let dx = 0; dx < thick; dx++) this.set(x + dx - (thick >> 1), y + dy - (thick >> 1), c);
    }
  }
  text(x: number, y: number, s: string, c: Rgb = INK, scale = 1): void {
    drawText(this.data, this.width, Math.round(x), Math.round(y), s, scale, c);
  }
}

function drawAxes(cv: Canvas, l: ChartLayout, o: LineChartOptions): void {
  const { left, right, top, bottom } = l.plot;
  for (const t of l.y.ticks) {
    const p = project(l, l.x.min, t);
    if (!p) continue;
    const y = Math.round(p[1]);
    if (y < top - 1 || y > bottom + 1) continue;
    cv.line([left, y], [right, y], GRID);
    const s = formatTick(t);
    cv.text(left - 6 - textWidth(s, 1), y - 3, s, MUTED);
  }
  for (const t of l.x.ticks) {
    const p = project(l, t, l.y.min);
    if (!p) continue;
    const x = Math.round(p[0]);
    if (x < left - 1 || x > right + 1) continue;
    cv.line([x, top], [x, bottom], GRID);
    cv.line([x, bottom], [x, bottom + 3], AXIS);
    const s = formatTick(t);
    cv.text(Math.max(0, x - textWidth(s, 1) / 2), bottom + 6, s, MUTED);
  }
  cv.line([left, top], [left, bottom], AXIS);
  cv.line([left, bottom], [right, bottom], AXIS);
  if (o.refY !== undefined) {
    const p = project(l, l.x.min, o.refY);
    if (p) cv.line([left, p[1]], [right, p[1]], AXIS, 1, true);
  }
}

function drawLabels(cv: Canvas, l: ChartLayout, o: LineChartOptions): void {
  let y = 8;
  if (o.title) {
    cv.text(10, y, o.title, INK, 2);
    y += 2 * GLYPH_H + 8;
  }
  if (o.yLabel) cv.text(10, y, o.yLabel + (l.y.log ? ' (LOG)' : ''), MUTED);
  let below = l.plot.bottom + 6 + GLYPH_H + 4;
  if (o.xLabel) {
    const s = o.xLabel + (l.x.log ? ' (LOG)' : '');
    cv.text((l.plot.left + l.plot.right) / 2 - textWidth(s, 1) / 2, below, s, MUTED);
    below += GLYPH_H + 6;
  }
  const cols = legendColumns(o, l.width);
  const colW = Math.floor((l.width - 20) / cols);
  o.series.forEach((s, i) => {
    const x = 10 + (i % cols) * colW;
    const yy = below + 4 + Math.floor(i / cols) * LEGEND_ROW;
    const c = parseColor(s.color);
    cv.line([x, yy + 3], [x + 16, yy + 3], c, 2, s.dashed ?? false);
    cv.text(x + 22, yy, s.name.slice(0, Math.max(1, Math.floor((colW - 26) / ADVANCE))), INK);
  });
}

function drawSeries(cv: Canvas, l: ChartLayout, s: ChartSeries): void {
  const c = parseColor(s.color);
  let prev: [number, number] | null = null;
  const pts = [...s.points].sort((a, b) => a[0] - b[0]);
  for (const [x, y] of pts) {
    const p = y === null ? null : project(l, x, y);
    if (p && prev) cv.line(prev, p, c, 2, s.dashed ?? false, l.plot);
    // Markers show where the measurements are; on a dense curve they would only thicken it.
    if (p && pts.length <= 40) cv.rect(Math.round(p[0]) - 2, Math.round(p[1]) - 2, 5, 5, c);
    prev = p;
  }
}

/** Renders the chart as an RGB PNG. */
export function renderLineChart(o: LineChartOptions): Buffer {
  const l = chartLayout(o);
  const cv = new Canvas(l.width, l.height);
  drawAxes(cv, l, o);
  for (const s of o.series) drawSeries(cv, l, s);
  drawLabels(cv, l, o);
  const png = new PNG({ width: l.width, height: l.height, colorType: 2, inputColorType: 6, inputHasAlpha: true });
  for (let i = 0; i < l.width * l.height; i++) {
    png.data[4 * i] = cv.data[4 * i]!;
    png.data[4 * i + 1] = cv.data[4 * i + 1]!;
    png.data[4 * i + 2] = cv.data[4 * i + 2]!;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 2, inputColorType: 6, inputHasAlpha: true });
}

export function writeLineChartPng(path: string, o: LineChartOptions): void {
  writeFileAtomic(path, renderLineChart(o));
}
