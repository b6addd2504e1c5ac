// @vitest-environment happy-dom
/**
 * The chart lifecycle every chart component shares (composables/useEChart.ts): one instance per mount,
 * with the app's theme; any number of input changes within a frame draw once; a size change resizes
 * (and redraws) in the next frame; unmount disposes the instance and stops observing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defineComponent, h, nextTick, ref } from 'vue';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';

const ec = vi.hoisted(() => ({
  inits: [] as { el: unknown; theme: unknown; opts: unknown }[],
  chart: { resize: vi.fn(), dispose: vi.fn(), setOption: vi.fn() },
  themes: [] as string[],
}));
vi.mock('echarts/core', () => ({
  use: () => undefined,
  registerTheme: (name: string) => ec.themes.push(name),
  init: (el: unknown, theme: unknown, opts: unknown) => {
    ec.inits.push({ el, theme, opts });
    return ec.chart;
  },
}));

import { useEChart } from '../../../src/renderer/src/composables/useEChart';
import { useThemeStore } from '../../../src/renderer/src/stores/theme';

let frames: FrameRequestCallback[] = [];
const runFrames = () => {
  const f = frames;
  frames = [];
  f.forEach((cb) => cb(0));
};
let observers: { cb: ResizeObserverCallback; observed: Element[]; disconnected: boolean }[] = [];

beforeEach(() => {
  // The chart follows the page's theme (stores/theme.ts), so each test gets a fresh Pinia and a light page.
  setActivePinia(createPinia());
  localStorage.clear();
  frames = [];
  observers = [];
  ec.inits.length = 0;
  Object.values(ec.chart).forEach((f) => f.mockClear());
  vi.stubGlobal('requestAnimationFrame', (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal('cancelAnimationFrame', (id: number) => {
    if (id > 0) frames[id - 1] = () => undefined;
  });
  vi.stubGlobal(
    'ResizeObserver',
    class {
      record: { cb: ResizeObserverCallback; observed: Element[]; disconnected: boolean };
      constructor(cb: ResizeObserverCallback) {
        this.record = { cb, observed: [], disconnected: false };
        observers.push(this.record);
      }
      observe(el: Element) {
        this.record.observed.push(el);
      }
      disconnect() {
        this.record.disconnected = true;
      }
    },
  );
});
afterEach(() => vi.unstubAllGlobals());

function harness() {
  const a = ref(0);
  const b = ref('x');
  const renders: string[] = [];
  const Chart = defineComponent({
    setup() {
      const { el } = useEChart((_c, fresh) => renders.push(`${a.value}${b.value}${fresh ? '*' : ''}`), [a, b]);
      return () => h('div', { ref: el, class: 'chart' });
    },
  });
  return { a, b, renders, wrapper: mount(Chart) };
}

describe('useEChart', () => {
  it('creates one themed instance on mount and draws in the first frame', () => {
    const { renders, wrapper } = harness();
    expect(ec.inits).toHaveLength(1);
    expect(ec.inits[0]!.el).toBe(wrapper.element);
    expect(ec.inits[0]!.theme).toBe('sadpm');
    expect(ec.themes).toContain('sadpm');
    expect(renders).toEqual([]);
    runFrames();
    expect(renders).toEqual(['0x*']);
    wrapper.unmount();
  });

  it('coalesces any number of changes within a frame into one draw with the latest inputs', async () => {
    const { a, b, renders, wrapper } = harness();
    runFrames();
    for (let i = 1; i <= 50; i++) {
      a.value = i;
      await nextTick();
    }
    b.value = 'y';
    await nextTick();
    expect(frames).toHaveLength(1);
    runFrames();
    expect(renders).toEqual(['0x*', '50y']);
    runFrames();
    expect(renders).toHaveLength(2);
    wrapper.unmount();
  });

  it('resizes when its element changes size, then redraws', () => {
    const { renders, wrapper } = harness();
    runFrames();
    expect(observers).toHaveLength(1);
    expect(observers[0]!.observed).toEqual([wrapper.element]);
    observers[0]!.cb([], {} as ResizeObserver);
    observers[0]!.cb([], {} as ResizeObserver);
    expect(ec.chart.resize).not.toHaveBeenCalled();
    runFrames();
    expect(ec.chart.resize).toHaveBeenCalledTimes(1);
    expect(renders).toHaveLength(2);
    wrapper.unmount();
  });

  it('disposes the instance, stops observing and drops a pending frame on unmount', async () => {
    const { a, renders, wrapper } = harness();
    runFrames();
    a.value = 7;
    await nextTick();
    wrapper.unmount();
    expect(ec.chart.dispose).toHaveBeenCalledTimes(1);
    expect(observers[0]!.disconnected).toBe(true);
    runFrames();
    expect(renders).toEqual(['0x*']);
    a.value = 8;
    await nextTick();
    expect(frames).toHaveLength(0);
  });

  it('creates the chart again with the dark theme when the page turns dark, and draws it whole', async () => {
    const { renders, wrapper } = harness();
    runFrames();
    useThemeStore().set('dark');
    await nextTick();
    expect(ec.chart.dispose).toHaveBeenCalledTimes(1);
    expect(ec.inits.map((i) => i.theme)).toEqual(['sadpm', 'sadpm-dark']);
    runFrames();
    expect(renders).toEqual(['0x*', '0x*']);
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(localStorage.getItem('sadpm.theme')).toBe('dark');
    wrapper.unmount();
  });
});
