// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../../src/renderer/src/api';
import { useLiveStore, setFrameScheduler, Column } from '../../../src/renderer/src/stores/live';
import { FakeApi, progressMsg } from './fakeApi';

let frames: (() => void)[] = [];
function runFrame(): void {
  const f = frames;
  frames = [];
  f.forEach((cb) => cb());
}

describe('live store', () => {
  let api: FakeApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    frames = [];
    setFrameScheduler((cb) => frames.push(cb));
    api = new FakeApi()
      .handle('metrics.series', ({ names }) =>
        names.filter((n) => n === 'loss').map((name) => ({ name, steps: [1, 2, 3], values: [3, 2, 1], total: 3 })),
      )
      .handle('gap.list', () => [
        {
          runId: 7,
          step: 2,
          t0: 4,
          weights: 'raw' as const,
          n: null,
          t: [3, 2, 1],
          meanAbs: [0.1, 0.2, 0.3],
          l2: [1, 2, 3],
          signedMean: [0, 0, 0],
        },
      ]);
    setApi(api);
  });

  it('coalesces any number of messages within a frame into one reactive tick', async () => {
    const live = useLiveStore();
    await live.load(7);
    runFrame();
    const tick0 = live.tick;
    const frames0 = live.stats.frames;
    for (let s = 4; s < 504; s++) api.emit('run.message', { runId: 7, msg: progressMsg(s, 1 / s) });
    // Data is appended at once, but nothing reactive happened yet.
    expect(live.series.get(7)!.column('loss').length).toBe(503);
    expect(live.tick).toBe(tick0);
    expect(live.progress.get(7)).toBeUndefined();
    expect(frames).toHaveLength(1);
    runFrame();
    expect(live.tick).toBe(tick0 + 1);
    expect(live.stats.frames).toBe(frames0 + 1);
    expect(live.progress.get(7)!.step).toBe(503);
    // A quiet frame requests nothing.
    expect(frames).toHaveLength(0);
  });

  it('keeps series in growable typed arrays, drops repeated steps after a resume', async () => {
    const live = useLiveStore();
    await live.load(7);
    const col = live.series.get(7)!.column('loss');
    expect(col.values).toBeInstanceOf(Float64Array);
    expect(Array.from(col.steps.subarray(0, col.length))).toEqual([1, 2, 3]);
    api.emit('run.message', { runId: 7, msg: progressMsg(3, 9) });
    api.emit('run.message', { runId: 7, msg: progressMsg(4, 0.5) });
    expect(Array.from(col.values.subarray(0, col.length))).toEqual([3, 2, 1, 0.5]);
    expect(live.series.get(7)!.column('gpuBytes').length).toBe(1);
  });

  it('buffers messages that arrive while the history loads and applies the newer ones after it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    api.handle('metrics.series', async () => {
      await gate;
      return [{ name: 'loss', steps: [1, 2], values: [5, 4], total: 2 }];
    });
    const live = useLiveStore();
    const p = live.load(7);
    await Promise.resolve();
    api.emit('run.message', { runId: 7, msg: progressMsg(2, 99) }); // already in the history
    api.emit('run.message', { runId: 7, msg: progressMsg(3, 3) });
    release();
    await p;
    const col = live.series.get(7)!.column('loss');
    expect(Array.from(col.steps.subarray(0, col.length))).toEqual([1, 2, 3]);
    expect(Array.from(col.values.subarray(0, col.length))).toEqual([5, 4, 3]);
  });

  it('adds live gap events once, in step order, and ignores runs it does not watch', async () => {
    const live = useLiveStore();
    await live.load(7);
    const gap = {
      type: 'gap' as const,
      step: 10,
      t0: 4,
      t: [3, 2, 1],
      meanAbs: [0.3, 0.2, 0.1],
      l2: [1, 1, 1],
      signedMean: [0, 0, 0],
    };
    api.emit('run.message', { runId: 7, msg: gap });
    api.emit('run.message', { runId: 7, msg: gap });
    api.emit('run.message', { runId: 8, msg: progressMsg(5) });
    expect(live.gaps.get(7)!.map((g) => g.step)).toEqual([2, 10]);
    expect(live.series.has(8)).toBe(false);
  });

  it('Column grows past its capacity without losing points', () => {
    const c = new Column(4);
    for (let i = 0; i < 1000; i++) c.push(i, i * 2);
    expect(c.length).toBe(1000);
    expect(c.values[999]).toBe(1998);
    expect(c.lastStep).toBe(999);
  });
});
