// @vitest-environment happy-dom
/**
 * The monitor's header says what a running run is doing (from the engine's activity messages), and
 * Stop shows "Stopping…" from the click until the run's status changes, not just while the request
 * is in flight.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../../../src/renderer/src/api';
import { setFrameScheduler } from '../../../src/renderer/src/stores/live';
import { useRunsStore } from '../../../src/renderer/src/stores/runs';
import { navigate } from '../../../src/renderer/src/router';
import { FakeApi, progressMsg, runRecord } from './fakeApi';
import { loadSfc } from './sfc';

let MonitorView: Component;
beforeAll(async () => {
  MonitorView = await loadSfc('src/renderer/src/views/MonitorView.vue');
});

describe('Monitor header activity', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    setFrameScheduler((cb) => cb());
    navigate('monitor', 3);
    const running = runRecord({ id: 3, name: 'sa2', status: 'running', step: 40 });
    api = new FakeApi()
      .handle('runs.list', () => ({ runs: [running], total: 1 }))
      .handle('runs.get', () => ({
        run: running,
        checkpoints: [],
        samples: [],
        metricNames: [],
        disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
        retention: null,
        active: true,
        queuePosition: null,
      }))
      .handle('datasets.list', () => [])
      .handle('metrics.series', () => [])
      .handle('gap.list', () => [])
      // Like the server: the request returns at once and the run is still running.
      .handle('runs.stop', () => running);
    setApi(api);
  });

  const stubs = { MetricChart: true, GapCurveChart: true, GapHeatmap: true };

  it('shows training, sampling k/n, measuring the gap k/n, and Stopping… until the run stops', async () => {
    const w = mount(MonitorView, { global: { stubs } });
    await flushPromises();
    useRunsStore().subscribe();
    const header = () => w.get('[data-testid="monitor-activity"]').text();
    expect(header()).toBe('training');

    api.emit('run.message', { runId: 3, msg: progressMsg(40) });
    api.emit('run.message', {
      runId: 3,
      msg: { type: 'activity', step: 40, activity: 'sampling', done: 12, total: 50 },
    });
    await flushPromises();
    expect(header()).toBe('sampling 12/50');

    api.emit('run.message', { runId: 3, msg: { type: 'activity', step: 40, activity: 'gap', done: 80, total: 300 } });
    await flushPromises();
    expect(header()).toBe('measuring the gap 80/300');

    await w.get('[data-testid="monitor-stop"]').trigger('click');
    await flushPromises();
    // The stop request has returned; the engine has not stopped yet.
    expect(api.callsTo('runs.stop')).toEqual([{ id: 3 }]);
    expect(w.get('[data-testid="monitor-stop"]').text()).toBe('Stopping…');
    expect(w.get('[data-testid="monitor-stop"]').attributes('disabled')).toBeDefined();
    expect(w.get('[data-testid="monitor-pause"]').attributes('disabled')).toBeDefined();
    expect(header()).toBe('Stopping (measuring the gap 80/300)…');

    api.emit('run.message', { runId: 3, msg: { type: 'activity', step: 40, activity: 'checkpoint' } });
    await flushPromises();
    expect(header()).toBe('Stopping (writing a checkpoint)…');

    api.emit('run.message', { runId: 3, msg: { type: 'finished', step: 40, reason: 'stopped', runDir: '/r/3' } });
    api.emit('run.updated', runRecord({ id: 3, name: 'sa2', status: 'stopped', step: 40 }));
    await flushPromises();
    expect(header()).toBe('—');
    expect(w.find('[data-testid="monitor-stop"]').exists()).toBe(false);
    expect(w.get('[data-testid="monitor-resume"]').text()).toBe('Resume');
    w.unmount();
  });
});

describe('Monitor legend for overlaid runs', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    setFrameScheduler((cb) => cb());
    navigate('monitor', 3);
    const series = (name: string) => ({ name, steps: [1, 2, 3], values: [3, 2, 1], total: 3 });
    const api = new FakeApi()
      .handle('runs.list', () => ({
        runs: [
          runRecord({ id: 3, name: 'sa2', status: 'completed' }),
          runRecord({ id: 4, name: 'baseline', status: 'completed' }),
        ],
        total: 2,
      }))
      .handle('runs.get', ({ id }) => ({
        run: runRecord({ id, name: id === 3 ? 'sa2' : 'baseline', status: 'completed' }),
        checkpoints: [],
        samples: [],
        metricNames: [],
        disk: { total: 0, checkpoints: 0, samples: 0, other: 0 },
        retention: null,
        active: false,
        queuePosition: null,
      }))
      .handle('datasets.list', () => [])
      .handle('metrics.series', ({ names }) => names.filter((n) => n === 'loss').map(series))
      .handle('gap.list', () => [])
      .handle('metrics.overlay', ({ runIds, name }) => runIds.map((runId) => ({ runId, series: series(name) })));
    setApi(api);
  });

  it('names each run with its colour once others are overlaid; clicking one hides it from the charts', async () => {
    const w = mount(MonitorView, { global: { stubs: { MetricChart: true, GapCurveChart: true, GapHeatmap: true } } });
    await flushPromises();
    const lossLines = () =>
      (
        w
          .findAllComponents({ name: 'MetricChart' })
          .find((c) => c.props('testid') === 'chart-loss')!
          .props('lines') as { id: string; name: string }[]
      ).map((l) => l.id);
    expect(w.find('[data-testid="chart-legend"]').exists()).toBe(false);
    expect(lossLines()).toEqual(['3-raw', '3']);

    await w.get('[data-testid="overlay-toggle"]').trigger('click');
    await w.get('[data-testid="overlay-run-4"]').trigger('change');
    await flushPromises();
    const legend = w.get('[data-testid="chart-legend"]');
    expect(legend.text()).toContain('#3 sa2');
    expect(legend.text()).toContain('#4 baseline');
    expect(lossLines()).toEqual(['3-raw', '3', 'o4']);

    await w.get('[data-testid="legend-run-4"]').trigger('click');
    expect(w.get('[data-testid="legend-run-4"]').attributes('aria-pressed')).toBe('false');
    expect(lossLines()).toEqual(['3-raw', '3']);
    await w.get('[data-testid="legend-run-3"]').trigger('click');
    await w.get('[data-testid="legend-run-4"]').trigger('click');
    expect(lossLines()).toEqual(['o4']);
    expect(w.get('[data-testid="legend-run-4"]').attributes('aria-pressed')).toBe('true');
    w.unmount();
  });
});
