/**
 * One ECharts instance for a chart component's lifetime: created on mount with the app's theme,
 * resized when its element's box changes, redrawn at most once per animation frame however many of
 * its inputs changed in between (updates are manual: `render` calls setOption itself), and disposed
 * on unmount.
 */
import { onBeforeUnmount, onMounted, shallowRef, watch, type WatchSource } from 'vue';
import { init, type ECharts } from 'echarts/core';
import { THEME } from '../charts/echarts';

export function useEChart(render: (chart: ECharts) => void, sources: WatchSource[]) {
  /** Bind to the chart's element with ref="el". */
  const el = shallowRef<HTMLElement | null>(null);
  let chart: ECharts | null = null;
  let observer: ResizeObserver | null = null;
  let frame = 0;
  let resize = false;

  function flush(): void {
    frame = 0;
    if (!chart) return;
    if (resize) chart.resize();
    resize = false;
    render(chart);
  }

  /** Schedules one redraw in the next animation frame (a no-op if one is already scheduled). */
  function requestUpdate(): void {
    if (frame || !chart) return;
    frame = requestAnimationFrame(flush);
  }

  /** Redraws at once (benchmarks and tests); false before mount. */
  function updateNow(): boolean {
    if (!chart) return false;
    if (frame) cancelAnimationFrame(frame);
    flush();
    return true;
  }

  onMounted(() => {
    if (!el.value) throw new Error('useEChart: bind the chart element with ref="el"');
    chart = init(el.value, THEME, { renderer: 'canvas' });
    if (typeof ResizeObserver === 'function') {
      observer = new ResizeObserver(() => {
        resize = true;
        requestUpdate();
      });
      observer.observe(el.value);
    }
    requestUpdate();
  });
  watch(sources, requestUpdate);
  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    observer?.disconnect();
    chart?.dispose();
    chart = null;
  });

  return { el, requestUpdate, updateNow, chart: () => chart };
}
