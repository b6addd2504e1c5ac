/**
 * One ECharts instance for a chart component's lifetime: created on mount with the app's theme,
 * resized when its element's box changes, redrawn at most once per animation frame however many of
 * its inputs changed in between (updates are manual: `render` calls setOption itself), and disposed
 * on unmount. When the page switches between light and dark, the chart is created again with the
 * other theme and `render` is told it has a fresh chart (its next setOption must be the whole option).
 */
import { onBeforeUnmount, onMounted, shallowRef, watch, type WatchSource } from 'vue';
import { init, type ECharts } from 'echarts/core';
import { chartTheme } from '../charts/echarts';
import { useThemeStore } from '../stores/theme';

export function useEChart(render: (chart: ECharts, fresh: boolean) => void, sources: WatchSource[]) {
  /** Bind to the chart's element with ref="el". */
  const el = shallowRef<HTMLElement | null>(null);
  let chart: ECharts | null = null;
  let observer: ResizeObserver | null = null;
  let frame = 0;
  let resize = false;
  let fresh = true;
  const theme = useThemeStore();

  function flush(): void {
    frame = 0;
    if (!chart) return;
    if (resize) chart.resize();
    resize = false;
    const first = fresh;
    fresh = false;
    render(chart, first);
  }

  let onCreate: ((c: ECharts) => void) | null = null;
  function create(): void {
    chart?.dispose();
    chart = init(el.value!, chartTheme(theme.effective === 'dark').name, { renderer: 'canvas' });
    fresh = true;
    onCreate?.(chart);
  }
  /** Called with each new instance (on mount and after a theme switch), e.g. to bind its events. */
  function onChart(fn: (c: ECharts) => void): void {
    onCreate = fn;
    if (chart) fn(chart);
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
    create();
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
  watch(
    () => theme.effective,
    () => {
      if (!chart) return;
      create();
      requestUpdate();
    },
  );
  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    observer?.disconnect();
    chart?.dispose();
    chart = null;
  });

  return { el, requestUpdate, updateNow, onChart, chart: () => chart };
}
