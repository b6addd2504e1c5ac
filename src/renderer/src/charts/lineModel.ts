/**
 * What a line chart draws, prepared incrementally: each line's source grows by appends (a live
 * run), is EMA-smoothed incrementally, and is decimated to at most ~2 points per bucket with a
 * min/max-per-block decimator whose block size doubles as the series grows. A frame that appends
 * k points costs O(k + buckets) per line, not O(n), so 20 runs × 100k points stay cheap.
 */
import { axisTooltip, tooltipBase } from './tooltip';

export interface LineSource {
  /** Steps (x) and values (y); only indices < length are read. */
  readonly steps: ArrayLike<number>;
  readonly values: ArrayLike<number>;
  readonly length: number;
  /**
   * The training steps when `steps` holds another x (a time axis): carried as a third dimension of each point,
   * for tooltips and CSV downloads.
   */
  readonly rawSteps?: ArrayLike<number>;
}

export interface LineSpec {
  id: string;
  name: string;
  source: LineSource;
  color: string;
  width?: number;
  dashed?: boolean;
  opacity?: number;
  /** Draw this line without smoothing (the faint raw line behind a smoothed one). */
  raw?: boolean;
}

/** TensorBoard-style debiased EMA, extended as the source grows. */
export class EmaColumn {
  values = new Float64Array(0);
  length = 0;
  private acc = 0;
  private count = 0;
  constructor(readonly weight: number) {}
  update(src: LineSource): void {
    if (src.length < this.length) this.reset();
    if (this.values.length < src.length) {
      const v = new Float64Array(Math.max(1024, src.length * 2));
      v.set(this.values.subarray(0, this.length));
      this.values = v;
    }
    const w = this.weight;
    for (let i = this.length; i < src.length; i++) {
      const y = src.values[i]!;
      if (!Number.isFinite(y)) {
        this.values[i] = y;
        continue;
      }
      this.acc = this.acc * w + (1 - w) * y;
      this.count++;
      this.values[i] = this.acc / (1 - w ** this.count);
    }
    this.length = src.length;
  }
  reset(): void {
    this.length = 0;
    this.acc = 0;
    this.count = 0;
  }
}

/** Min/max per block of source indices; blocks double in size to stay under maxBlocks. */
export class Decimator {
  blockSize = 1;
  private minIdx: number[] = [];
  private maxIdx: number[] = [];
  processed = 0;
  constructor(readonly maxBlocks = 1000) {}

  reset(): void {
    this.blockSize = 1;
    this.minIdx = [];
    this.maxIdx = [];
    this.processed = 0;
  }

  update(ys: ArrayLike<number>, length: number): void {
    if (length < this.processed) this.reset();
    for (let i = this.processed; i < length; i++) {
      const b = Math.floor(i / this.blockSize);
      if (b >= this.minIdx.length) {
        this.minIdx.push(i);
        this.maxIdx.push(i);
        continue;
      }
      const y = ys[i]!;
      if (!(y >= ys[this.minIdx[b]!]!)) this.minIdx[b] = i;
      if (!(y <= ys[this.maxIdx[b]!]!)) this.maxIdx[b] = i;
      if (this.minIdx.length > this.maxBlocks) this.merge(ys);
    }
    this.processed = length;
    while (this.minIdx.length > this.maxBlocks) this.merge(ys);
  }

  private merge(ys: ArrayLike<number>): void {
    const mn: number[] = [];
    const mx: number[] = [];
    for (let b = 0; b < this.minIdx.length; b += 2) {
      const a0 = this.minIdx[b]!;
      const a1 = this.minIdx[b + 1];
      mn.push(a1 === undefined || ys[a0]! <= ys[a1]! ? a0 : a1);
      const b0 = this.maxIdx[b]!;
      const b1 = this.maxIdx[b + 1];
      mx.push(b1 === undefined || ys[b0]! >= ys[b1]! ? b0 : b1);
    }
    this.minIdx = mn;
    this.maxIdx = mx;
    this.blockSize *= 2;
  }

  /** Interleaved [x0, y0, x1, y1, …] (with `extra`: [x0, y0, e0, …]) of the kept points in index order. */
  output(
    xs: ArrayLike<number>,
    ys: ArrayLike<number>,
    dropNonPositive: boolean,
    extra?: ArrayLike<number>,
  ): Float64Array {
    const n = this.minIdx.length;
    const out = new Float64Array(n * (extra ? 6 : 4));
    let k = 0;
    const emit = (i: number) => {
      const y = ys[i]!;
      if (dropNonPositive && !(y > 0)) return;
      out[k++] = xs[i]!;
      out[k++] = y;
      if (extra) out[k++] = extra[i]!;
    };
    for (let b = 0; b < n; b++) {
      const a = this.minIdx[b]!;
      const c = this.maxIdx[b]!;
      if (a === c) emit(a);
      else if (a < c) {
        emit(a);
        emit(c);
      } else {
        emit(c);
        emit(a);
      }
    }
    return out.subarray(0, k);
  }
}

interface LineState {
  spec: LineSpec;
  source: LineSource;
  ema: EmaColumn | null;
  dec: Decimator;
  /** Source length and settings the last output was made from. */
  seenLength: number;
  seenKey: string;
  data: Float64Array;
}

export interface ChartSettings {
  smoothing: number;
  logY: boolean;
  maxBlocks: number;
}

/**
 * Decimation buckets for a chart of this many pixels: each bucket keeps its min and max, so a line
 * has at most ~2/3 of a point per pixel — enough for the envelope and every spike, and few enough
 * segments that 20 overlaid runs rasterise within a frame even without a GPU.
 */
export function blocksForWidth(px: number): number {
  return Math.max(100, Math.min(1000, Math.round(px / 3)));
}

/** Keeps per-line state between frames and answers which lines changed. */
export class LineModel {
  private lines = new Map<string, LineState>();
  settings: ChartSettings = { smoothing: 0, logY: false, maxBlocks: 1000 };

  /** Sets the lines; returns ids whose data changed and whether the set of lines changed. */
  update(specs: LineSpec[]): { changed: LineState[]; structural: boolean; all: LineState[] } {
    const { smoothing, logY, maxBlocks } = this.settings;
    const key = `${smoothing}|${logY}|${maxBlocks}`;
    let structural = specs.length !== this.lines.size;
    const next = new Map<string, LineState>();
    const changed: LineState[] = [];
    for (const spec of specs) {
      let st = this.lines.get(spec.id);
      if (!st) {
        structural = true;
        const dec = new Decimator(maxBlocks);
        st = { spec, source: spec.source, ema: null, dec, seenLength: -1, seenKey: '', data: new Float64Array(0) };
      } else if (
        st.spec.color !== spec.color ||
        st.spec.name !== spec.name ||
        st.spec.dashed !== spec.dashed ||
        st.spec.width !== spec.width
      ) {
        structural = true;
      }
      st.spec = spec;
      const smooth = !spec.raw && smoothing > 0 ? smoothing : 0;
      if (st.source !== spec.source || st.seenKey !== key || spec.source.length < st.seenLength) {
        st.source = spec.source;
        st.ema = smooth > 0 ? new EmaColumn(smooth) : null;
        st.dec = new Decimator(maxBlocks);
        st.seenLength = -1;
      }
      if (st.seenLength !== spec.source.length || st.seenKey !== key) {
        let ys: ArrayLike<number> = spec.source.values;
        if (st.ema) {
          st.ema.update(spec.source);
          ys = st.ema.values;
        }
        st.dec.update(ys, spec.source.length);
        st.data = st.dec.output(spec.source.steps, ys, logY, spec.source.rawSteps);
        st.seenLength = spec.source.length;
        st.seenKey = key;
        changed.push(st);
      }
      next.set(spec.id, st);
    }
    this.lines = next;
    return { changed, structural, all: [...next.values()] };
  }
}

/** An ECharts line series for a line's state (data as an interleaved typed array). */
export function seriesOf(st: { spec: LineSpec; data: Float64Array }, withStyle: boolean): Record<string, unknown> {
  const s: Record<string, unknown> = { id: st.spec.id, data: st.data };
  if (!withStyle) return s;
  return {
    ...s,
    type: 'line',
    name: st.spec.name,
    dimensions: st.spec.source.rawSteps ? ['x', 'value', 'step'] : ['step', 'value'],
    encode: { x: 0, y: 1 },
    showSymbol: false,
    symbol: 'none',
    sampling: 'lttb',
    animation: false,
    silent: false,
    emphasis: { disabled: true },
    clip: true,
    color: st.spec.color,
    lineStyle: {
      width: st.spec.width ?? 1.5,
      type: st.spec.dashed ? 'dashed' : 'solid',
      opacity: st.spec.opacity ?? 1,
      color: st.spec.color,
    },
  };
}

/**
 * The axes, grid, tooltip and zoom of a metric line chart. The tooltip's content is DOM built by
 * tooltip.ts: the CSP blocks the inline-styled markup ECharts would write.
 */
export interface AxisOptions {
  /** Axis titles (with units). */
  xName?: string;
  yName?: string;
  /** The tooltip's head label ('step', 'time', …). */
  xLabel?: string;
  /** The zoomed x range to keep when the whole option is set again. */
  zoom?: { start: number; end: number } | null;
}

export function lineBaseOption(
  logY: boolean,
  fmtY: (v: number) => string,
  fmtX: (v: number) => string,
  axis: Record<string, unknown>,
  opts: AxisOptions = {},
): Record<string, unknown> {
  const label = (axis.axisLabel ?? {}) as Record<string, unknown>;
  const name = (text: string | undefined, gap: number) =>
    text ? { name: text, nameLocation: 'middle', nameGap: gap, nameTextStyle: { fontSize: 11 } } : {};
  const zoom = opts.zoom ? { startValue: opts.zoom.start, endValue: opts.zoom.end } : { start: 0, end: 100 };
  return {
    animation: false,
    // ECharts 6 keeps the axis labels and the axis names inside the grid's box ('all'); containLabel only the labels.
    grid: { left: 8, right: 14, top: 10, bottom: 6, outerBoundsMode: 'same', outerBoundsContain: 'all' },
    tooltip: {
      ...tooltipBase(),
      trigger: 'axis',
      axisPointer: { type: 'line', animation: false },
      formatter: axisTooltip(opts.xLabel ?? 'step', fmtX, fmtY),
    },
    xAxis: {
      type: 'value',
      min: 'dataMin',
      max: 'dataMax',
      ...axis,
      ...name(opts.xName, 22),
      axisLabel: { ...label, formatter: fmtX, hideOverlap: true },
    },
    yAxis: {
      type: logY ? 'log' : 'value',
      scale: true,
      ...axis,
      ...name(opts.yName, 46),
      axisLabel: { ...label, formatter: fmtY },
    },
    // The wheel zooms the x axis; a drag selects a range to zoom to (MetricChart draws and applies it).
    // rangeMode 'value': when a zoomed range is refetched at full detail, the zoom stays on the same x values.
    dataZoom: [
      {
        type: 'inside',
        xAxisIndex: 0,
        filterMode: 'none',
        moveOnMouseMove: false,
        rangeMode: ['value', 'value'],
        ...zoom,
      },
    ],
  };
}

type SetOption = (option: Record<string, unknown>, opts?: { replaceMerge?: string[] }) => void;

/**
 * Drives one chart: prepares the lines incrementally and calls setOption with the full option when
 * the set of lines or the axes changed, otherwise with only the series whose data changed.
 * MetricChart and the chart benchmark both use it.
 */
export class LineChartController {
  readonly model = new LineModel();
  private structureKey = '';
  /** Milliseconds of the last update (line preparation + setOption, which renders synchronously). */
  lastMs = 0;

  /** After the chart was created again (a theme switch): the next update sets the whole option. */
  reset(): void {
    this.structureKey = '';
  }
  constructor(
    private readonly setOption: SetOption,
    private readonly base: (logY: boolean) => Record<string, unknown>,
  ) {}

  update(lines: LineSpec[], opts: { smoothing: number; logY: boolean; key?: string; maxBlocks?: number }): number {
    const t0 = performance.now();
    this.model.settings = { smoothing: opts.smoothing, logY: opts.logY, maxBlocks: opts.maxBlocks ?? 1000 };
    const { changed, structural, all } = this.model.update(lines);
    const key = `${opts.logY}|${opts.key ?? ''}`;
    if (structural || key !== this.structureKey) {
      this.structureKey = key;
      const option = { ...this.base(opts.logY), series: all.map((st) => seriesOf(st, true)) };
      this.setOption(option, { replaceMerge: ['series'] });
    } else if (changed.length) {
      this.setOption({ series: changed.map((st) => seriesOf(st, false)) });
    }
    this.lastMs = performance.now() - t0;
    return this.lastMs;
  }
}
