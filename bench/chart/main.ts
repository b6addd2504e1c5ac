/**
 * Chart frame-time benchmark page: the app's chart code (LineChartController → ECharts, canvas,
 * no animation, sampling 'lttb', incremental decimation) with 20 runs × 100,000 points overlaid.
 * Each measured update appends points and calls setOption, which renders synchronously; the
 * runner (bench/chart.mjs) drives it in Chromium and prints the figures.
 */
import { init } from 'echarts/core';
import '../../src/renderer/src/charts/echarts';
import { AXIS_STYLE, PALETTE } from '../../src/renderer/src/charts/echarts';
import {
  LineChartController,
  blocksForWidth,
  lineBaseOption,
  type LineSpec,
} from '../../src/renderer/src/charts/lineModel';
import { Column } from '../../src/renderer/src/stores/live';

interface Scenario {
  name: string;
  runs: number;
  points: number;
  /** Runs that receive new points every frame. */
  liveRuns: number;
  appendPerFrame: number;
  smoothing: number;
  frames: number;
  /** Skip setOption (measures the line preparation alone). */
  dry?: boolean;
  /** Decimation buckets per line (the app's default when absent). */
  maxBlocks?: number;
  lineWidth?: number;
}

function lossCurve(seed: number, i: number): number {
  // A plausible training-loss shape with noise and occasional spikes, deterministic per run.
  const x = Math.sin(seed * 12.9898 + i * 78.233) * 43758.5453;
  const noise = x - Math.floor(x) - 0.5;
  const spike = (i * 7919 + seed * 104729) % 5003 === 0 ? 3 : 0;
  return 0.05 + 2 / Math.sqrt(1 + i / 200) + 0.08 * noise * (1 + seed / 20) + spike;
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: q(0.5), p95: q(0.95), max: s[s.length - 1]! };
}

async function nextFrame(): Promise<number> {
  return new Promise((r) => requestAnimationFrame(r));
}

async function run(sc: Scenario) {
  const el = document.getElementById('chart')!;
  const chart = init(el, undefined, { renderer: 'canvas' });
  const controller = new LineChartController(
    (option, opts) => {
      if (!sc.dry) chart.setOption(option, opts);
    },
    (logY) =>
      lineBaseOption(
        logY,
        (v) => v.toPrecision(3),
        (v) => String(v),
        AXIS_STYLE,
      ),
  );
  const blocks = sc.maxBlocks ?? blocksForWidth(chart.getWidth());
  let renders = 0;
  let renderMs = 0;
  chart.on('rendered', (e: unknown) => {
    renders++;
    renderMs += (e as { elapsedTime: number }).elapsedTime;
  });
  const cols: Column[] = [];
  for (let r = 0; r < sc.runs; r++) {
    const c = new Column(sc.points * 2);
    for (let i = 0; i < sc.points; i++) c.push(i * 10, lossCurve(r, i));
    cols.push(c);
  }
  const lines = (): LineSpec[] =>
    cols.map((c, r) => ({
      id: `r${r}`,
      name: `run ${r}`,
      source: c,
      color: PALETTE[r % PALETTE.length]!,
      width: sc.lineWidth ?? (r === 0 ? 1.5 : 1),
    }));
  const tFirst0 = performance.now();
  controller.update(lines(), { smoothing: sc.smoothing, logY: false, maxBlocks: blocks });
  const firstMs = performance.now() - tFirst0;
  // Warm-up frames (JIT, caches), not measured.
  for (let f = 0; f < 10; f++) {
    append(cols, sc);
    controller.update(lines(), { smoothing: sc.smoothing, logY: false, maxBlocks: blocks });
    await nextFrame();
  }
  renders = 0;
  renderMs = 0;
  const updates: number[] = [];
  const intervals: number[] = [];
  let last = await nextFrame();
  for (let f = 0; f < sc.frames; f++) {
    append(cols, sc);
    updates.push(controller.update(lines(), { smoothing: sc.smoothing, logY: false, maxBlocks: blocks }));
    const now = await nextFrame();
    intervals.push(now - last);
    last = now;
  }
  chart.dispose();
  return {
    blocks,
    rendersPerFrame: renders / sc.frames,
    renderMsPerFrame: renderMs / sc.frames,
    scenario: sc,
    firstRenderMs: firstMs,
    update: stats(updates),
    frameInterval: stats(intervals),
    pointsPerRun: cols[0]!.length,
  };
}

function append(cols: Column[], sc: Scenario): void {
  for (let r = 0; r < sc.liveRuns; r++) {
    const c = cols[r]!;
    for (let k = 0; k < sc.appendPerFrame; k++) {
      const i = c.length;
      c.push(i * 10, lossCurve(r, i));
    }
  }
}

declare global {
  interface Window {
    runBench: (sc: Scenario) => Promise<unknown>;
    benchReady: boolean;
  }
}
window.runBench = run;
window.benchReady = true;
