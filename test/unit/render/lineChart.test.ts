import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { chartLayout, project, renderLineChart, type LineChartOptions } from '../../../src/engine/render/lineChart';
import { formatTick, makeScale } from '../../../src/engine/render/chartScale';

const rgb = (png: PNG, x: number, y: number) => {
  const o = 4 * (Math.round(y) * png.width + Math.round(x));
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
};

describe('PNG line chart', () => {
  const opts: LineChartOptions = {
    width: 400,
    height: 260,
    title: 'FID vs sampling steps',
    xLabel: 'sampling steps',
    yLabel: 'FID',
    logX: true,
    series: [
      {
        name: 'baseline',
        color: '#ff0000',
        points: [
          [10, 40],
          [100, 10],
        ],
      },
      {
        name: 'sa',
        color: [0, 0, 255],
        points: [
          [10, 30],
          [20, null],
          [100, 5],
        ],
      },
    ],
  };

  it('has the requested size and draws each series as a line between its points', () => {
    const png = PNG.sync.read(renderLineChart(opts));
    expect([png.width, png.height]).toEqual([400, 260]);
    const l = chartLayout(opts);
    // The midpoint of the red segment (in log-x, linear-y pixel space) is red; the background is white.
    const a = project(l, 10, 40)!;
    const b = project(l, 100, 10)!;
    expect(rgb(png, (a[0] + b[0]) / 2, (a[1] + b[1]) / 2)).toEqual([255, 0, 0]);
    const c = project(l, 10, 30)!;
    const d = project(l, 100, 5)!;
    expect(rgb(png, (c[0] + d[0]) / 2, (c[1] + d[1]) / 2)).toEqual([255, 255, 255]);
    expect(rgb(png, c[0], c[1])).toEqual([0, 0, 255]); // a marker where the point is, but no line over the null
    expect(rgb(png, l.plot.right - 2, l.plot.top + 2)).toEqual([255, 255, 255]);
    // log x: 10 at the left edge, 100 at the right
    expect(a[0]).toBeCloseTo(l.plot.left, 5);
    expect(b[0]).toBeCloseTo(l.plot.right, 5);
  });

  it('reverses x when asked (t runs down the reverse chain), and refuses a bad colour', () => {
    const l = chartLayout({
      series: [
        {
          name: 'g',
          color: '#000000',
          points: [
            [1, 1],
            [300, 2],
          ],
        },
      ],
      reverseX: true,
    });
    expect(project(l, 300, 1)![0]).toBeLessThan(project(l, 1, 1)![0]);
    expect(() => renderLineChart({ series: [{ name: 'x', color: 'red', points: [[1, 1]] }] })).toThrow(
      /'red' is not #rrggbb/,
    );
    expect(() => chartLayout({ width: 50, series: [] })).toThrow(/at least 160x120/);
  });

  it('ticks: nice linear steps, decades with 2 and 5 on a short log axis, compact labels', () => {
    expect(makeScale([0, 9.3], false).ticks).toEqual([0, 2, 4, 6, 8]);
    expect(makeScale([10, 100], true).ticks).toEqual([10, 20, 50, 100]);
    expect(makeScale([1, 10_000], true).ticks).toEqual([1, 10, 100, 1000, 10_000]);
    expect([formatTick(0.5), formatTick(123456), formatTick(0.00012), formatTick(2.50001)]).toEqual([
      '0.5',
      '1.2E+5',
      '1.2E-4',
      '2.5',
    ]);
  });
});
