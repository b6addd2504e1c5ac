// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { Decimator, EmaColumn, LineModel, blocksForWidth } from '../../../src/renderer/src/charts/lineModel';
import { Column } from '../../../src/renderer/src/stores/live';

function series(n: number): Column {
  const c = new Column();
  for (let i = 0; i < n; i++) c.push(i, Math.sin(i / 50) + (i === 7777 ? 40 : 0));
  return c;
}

describe('chart line preparation', () => {
  it('decimating incrementally gives the same points as decimating all at once, spikes kept', () => {
    const c = series(20_000);
    const once = new Decimator(300);
    once.update(c.values, c.length);
    const inc = new Decimator(300);
    for (let n = 1; n <= c.length; n += 137) inc.update(c.values, n);
    inc.update(c.values, c.length);
    const a = once.output(c.steps, c.values, false);
    const b = inc.output(c.steps, c.values, false);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(a.length / 2).toBeLessThanOrEqual(600);
    const ys = Array.from(a).filter((_, i) => i % 2 === 1);
    expect(Math.max(...ys)).toBeCloseTo(Math.sin(7777 / 50) + 40);
    expect(Math.min(...ys)).toBeCloseTo(-1, 3);
    // x stays in order (the envelope is drawn left to right).
    const xs = Array.from(a).filter((_, i) => i % 2 === 0);
    expect(xs.every((x, i) => i === 0 || x >= xs[i - 1]!)).toBe(true);
  });

  it('keeps every point while there are fewer than the buckets', () => {
    const c = series(50);
    const d = new Decimator(300);
    d.update(c.values, c.length);
    expect(d.output(c.steps, c.values, false).length).toBe(100);
  });

  it('debiased EMA extends incrementally and equals a full recomputation', () => {
    const c = series(1000);
    const e1 = new EmaColumn(0.9);
    e1.update({ steps: c.steps, values: c.values, length: 400 });
    e1.update(c);
    const e2 = new EmaColumn(0.9);
    e2.update(c);
    expect(Array.from(e1.values.subarray(0, 1000))).toEqual(Array.from(e2.values.subarray(0, 1000)));
    expect(e2.values[0]).toBeCloseTo(c.values[0]!); // debiased: starts at the first value
  });

  it('LineModel reports only the lines whose data changed, and structure changes', () => {
    const a = series(100);
    const b = series(100);
    const m = new LineModel();
    const specs = () => [
      { id: 'a', name: 'a', source: a, color: '#000' },
      { id: 'b', name: 'b', source: b, color: '#111' },
    ];
    const first = m.update(specs());
    expect(first.structural).toBe(true);
    expect(first.changed.map((s) => s.spec.id)).toEqual(['a', 'b']);
    a.push(100, 1);
    const second = m.update(specs());
    expect(second.structural).toBe(false);
    expect(second.changed.map((s) => s.spec.id)).toEqual(['a']);
    expect(m.update(specs()).changed).toEqual([]);
    m.settings = { ...m.settings, logY: true };
    expect(m.update(specs()).changed).toHaveLength(2);
    expect(m.update([specs()[0]!]).structural).toBe(true);
  });

  it('log axis drops non-positive values', () => {
    const c = new Column();
    [1, 0, -2, 3].forEach((v, i) => c.push(i, v));
    const m = new LineModel();
    m.settings = { smoothing: 0, logY: true, maxBlocks: 100 };
    const { all } = m.update([{ id: 'x', name: 'x', source: c, color: '#000' }]);
    expect(Array.from(all[0]!.data)).toEqual([0, 1, 3, 3]);
  });

  it('buckets scale with the chart width within bounds', () => {
    expect(blocksForWidth(900)).toBe(300);
    expect(blocksForWidth(10)).toBe(100);
    expect(blocksForWidth(10_000)).toBe(1000);
  });
});
