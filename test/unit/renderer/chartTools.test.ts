// @vitest-environment happy-dom
/**
 * The charts' tools (issue 15): the CSV of a chart's lines, a file saved from the page, the time axes (a run's
 * steps through its wall clock, and back, as a zoom on a time axis needs), and drag-to-zoom's pixel range.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { ECharts } from 'echarts/core';
import { downloadBlob, downloadDataUrl, linesCsv } from '../../../src/renderer/src/charts/download';
import { onAxis, stepAtTime, timeAtStep, xFormat } from '../../../src/renderer/src/charts/timeAxis';
import { useDragZoom, xExtent, zoomRangeOf } from '../../../src/renderer/src/charts/dragZoom';
import type { LineSource, LineSpec } from '../../../src/renderer/src/charts/lineModel';

const src = (steps: number[], values: number[]): LineSource => ({ steps, values, length: steps.length });
const line = (id: string, name: string, source: LineSource, raw = false): LineSpec => ({
  id,
  name,
  source,
  color: '#000',
  raw,
});

afterEach(() => vi.unstubAllGlobals());

describe("a chart's CSV", () => {
  it('has a row per step of any line, a column per line, empty where a run has no point; raw copies left out', () => {
    const a = src([1, 2, 3], [0.5, 0.25, 0.125]);
    const csv = linesCsv([
      line('1-raw', 'sa2 (raw)', a, true),
      line('1', 'sa2', a),
      line('o2', 'base, "λ=0"', src([2, 4], [9, 8])),
    ]);
    expect(csv).toBe('step,sa2,"base, ""λ=0"""\n1,0.5,\n2,0.25,9\n3,0.125,\n4,,8\n');
  });

  it('writes training steps, not the times a time axis draws them at', () => {
    const clock = src([1, 2, 3], [1000, 1010, 1030]);
    const mapped = onAxis(src([1, 3], [7, 6]), clock, 'relative');
    expect(Array.from({ length: mapped.length }, (_, i) => mapped.steps[i])).toEqual([0, 30]);
    expect(linesCsv([line('1', 'run', mapped)])).toBe('step,run\n1,7\n3,6\n');
  });
});

describe('saving a file from the page', () => {
  it('clicks a download link to a blob URL with the file name, then revokes the URL', async () => {
    vi.useFakeTimers();
    const made: Blob[] = [];
    const revoked: string[] = [];
    vi.stubGlobal('URL', {
      createObjectURL: (b: Blob) => (made.push(b), 'blob:x'),
      revokeObjectURL: (u: string) => revoked.push(u),
    });
    const clicks: { href: string; download: string }[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push({ href: this.getAttribute('href')!, download: this.download });
    });
    downloadDataUrl(`data:image/png;base64,${btoa('\x89PNG')}`, 'run-loss.png');
    downloadBlob(new Blob(['step,a\n']), 'run-loss.csv');
    expect(clicks).toEqual([
      { href: 'blob:x', download: 'run-loss.png' },
      { href: 'blob:x', download: 'run-loss.csv' },
    ]);
    expect(made[0]!.type).toBe('image/png');
    expect(new Uint8Array(await made[0]!.arrayBuffer())).toEqual(new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
    expect(document.querySelectorAll('a[download]')).toHaveLength(0);
    vi.advanceTimersByTime(10_000);
    expect(revoked).toEqual(['blob:x', 'blob:x']);
    click.mockRestore();
    vi.useRealTimers();
  });
});

describe('time axes', () => {
  it('maps a step to wall or relative time through the clock, and a time back to a step (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 2, maxLength: 30 }),
        fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 30, maxLength: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (gaps, dts, u) => {
          const steps: number[] = [];
          const times: number[] = [];
          gaps.forEach((g, i) => {
            steps.push((steps.at(-1) ?? 0) + g);
            times.push((times.at(-1) ?? 1.7e9) + dts[i]!);
          });
          const clock = src(steps, times);
          const step = steps[0]! + u * (steps.at(-1)! - steps[0]!);
          for (const mode of ['wall', 'relative'] as const) {
            const t = timeAtStep(clock, step, mode);
            // Epoch seconds (~1.7e9) carry ~2e-7 s: at 50 steps per 0.01 s that is ~1e-3 of a step.
            expect(Math.abs(stepAtTime(clock, t, mode) - step)).toBeLessThan(1e-2);
          }
          expect(timeAtStep(clock, steps[0]!, 'relative')).toBe(0);
        },
      ),
    );
  });

  it('keeps one mapped source per line and mode, and maps points again as a live clock grows', () => {
    const steps = [1, 2, 3];
    const values = [5, 4, 3];
    const live: { steps: number[]; values: number[]; length: number } = { steps, values, length: 3 };
    const clock = { steps: [1, 2], values: [100, 110], length: 2 };
    const m = onAxis(live, clock, 'wall');
    expect(onAxis(live, clock, 'wall')).toBe(m);
    expect(onAxis(live, clock, 'step')).toBe(live);
    expect(onAxis(live, undefined, 'wall')).toBe(live);
    // Step 3 is past the clock's end: clamped to its last time until the clock reaches it.
    expect(Array.from(m.steps as Float64Array).slice(0, 3)).toEqual([100, 110, 110]);
    clock.steps.push(3);
    clock.values.push(130);
    clock.length = 3;
    steps.push(4);
    values.push(2);
    live.length = 4;
    expect(Array.from(m.steps as Float64Array).slice(0, 4)).toEqual([100, 110, 130, 130]);
    expect(Array.from(m.rawSteps!)).toEqual([1, 2, 3, 4]);
  });

  it('titles each axis mode with its unit', () => {
    expect(xFormat('step').name).toBe('Step');
    expect(xFormat('relative').name).toBe('Time since the first step (s)');
    expect(xFormat('relative').fmt(125)).toMatch(/2.*m/);
    expect(xFormat('wall').name).toBe('Wall time (local)');
  });
});

describe('drag to zoom', () => {
  function setup(inside = true) {
    const applied: { start: number; end: number }[] = [];
    const chart = {
      containPixel: () => inside,
      convertFromPixel: (_f: unknown, px: number) => px * 10,
    } as unknown as ECharts;
    const zoom = useDragZoom(
      () => chart,
      (r) => applied.push(r),
    );
    const host = document.createElement('div');
    host.getBoundingClientRect = () => ({ left: 20, top: 5 }) as DOMRect;
    const box = document.createElement('div');
    zoom.boxRef(box);
    const press = (x: number) =>
      zoom.down({ button: 0, clientX: x, clientY: 50, currentTarget: host } as unknown as MouseEvent);
    const move = (x: number) => window.dispatchEvent(new MouseEvent('mousemove', { clientX: x }));
    const up = (x: number) => window.dispatchEvent(new MouseEvent('mouseup', { clientX: x }));
    return { applied, zoom, box, press, move, up };
  }

  it('zooms to the dragged range in x values, whichever way it was dragged, drawing the box meanwhile', () => {
    const { applied, zoom, box, press, move, up } = setup();
    press(220);
    move(150);
    expect(zoom.active.value).toBe(true);
    expect([box.style.left, box.style.width]).toEqual(['130px', '70px']);
    up(120);
    expect(applied).toEqual([{ start: 1000, end: 2000 }]);
    expect(zoom.active.value).toBe(false);
  });

  it("follows the mouse even when the chart's canvas stops its events from bubbling", () => {
    const { applied, zoom, press } = setup();
    const canvas = document.createElement('canvas');
    document.body.append(canvas);
    for (const type of ['mousemove', 'mouseup']) canvas.addEventListener(type, (e) => e.stopPropagation());
    press(220);
    canvas.dispatchEvent(new MouseEvent('mousemove', { clientX: 150, bubbles: true }));
    expect(zoom.active.value).toBe(true);
    canvas.dispatchEvent(new MouseEvent('mouseup', { clientX: 120, bubbles: true }));
    expect(applied).toEqual([{ start: 1000, end: 2000 }]);
    canvas.remove();
  });

  it('leaves a click (a drag under 6 px) and a press outside the plot to the chart', () => {
    const s = setup();
    s.press(100);
    s.move(103);
    s.up(104);
    expect(s.applied).toEqual([]);
    const outside = setup(false);
    outside.press(100);
    outside.move(300);
    outside.up(300);
    expect(outside.applied).toEqual([]);
  });
});

describe("a chart's zoom as x values", () => {
  it('reads x values when ECharts holds them (a drag), and turns percentages (wheel, keys) into values', () => {
    // A dataZoom action with values clears the percentages: before this was read, a drag counted as zoomed out.
    expect(zoomRangeOf({ start: undefined, end: undefined, startValue: 900, endValue: 1400 }, [1, 30_000])).toEqual({
      start: 900,
      end: 1400,
    });
    expect(zoomRangeOf({ start: 10, end: 20 }, [0, 1000])).toEqual({ start: 100, end: 200 });
    expect(zoomRangeOf({ start: 21.7, end: 25.5, startValue: 654, endValue: 768 }, [1, 3000])).toEqual({
      start: 654,
      end: 768,
    });
    expect(zoomRangeOf({ start: 0, end: 100 }, [0, 1000])).toBeNull();
    // Zoomed out while a zoomed window's points are drawn: the values are that window's, the zoom is gone.
    expect(zoomRangeOf({ start: 0, end: 100, startValue: 6085, endValue: 7234 }, [6085, 7234])).toBeNull();
    expect(zoomRangeOf({}, [0, 1000])).toBeNull();
    expect(zoomRangeOf({ start: 10, end: 20 }, null)).toBeNull();
  });

  it('takes the x extent of ascending lines, skipping empty ones', () => {
    expect(xExtent([src([5, 9], [1, 1]), src([], []), src([2, 7], [1, 1])])).toEqual([2, 9]);
    expect(xExtent([src([], [])])).toBeNull();
  });
});
