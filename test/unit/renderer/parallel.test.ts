/**
 * Parallel coordinates of runs (issue 15): an axis per hyperparameter shown (value axes for numbers, category axes
 * of the values for text), the result last, a line per run with its values, coloured over the result's range.
 */
import { describe, expect, it } from 'vitest';
import { parallelData, parallelOption } from '../../../src/renderer/src/charts/parallel';
import { resolveRunConfig } from '../../../src/shared/config';
import { runRecord } from './fakeApi';

const runs = [
  runRecord({
    id: 1,
    name: 'a',
    lambda: 0,
    lastLoss: 1.5,
    config: { ...resolveRunConfig({}), tau: 'paper', lr: 1e-4 },
  }),
  runRecord({
    id: 2,
    name: 'b',
    lambda: 1,
    lastLoss: 0.5,
    config: { ...resolveRunConfig({}), tau: 'official', lr: 2e-4 },
  }),
  runRecord({
    id: 3,
    name: 'c',
    lambda: 0.5,
    lastLoss: null,
    config: { ...resolveRunConfig({}), tau: 'paper', lr: 2e-4 },
  }),
];

describe('parallel coordinates', () => {
  it('puts the hyperparameters first and the result last, text columns as categories of their values', () => {
    const d = parallelData(runs, ['lambda', 'tau', 'loss', 'lr'], 'loss');
    expect(d.axes.map((a) => [a.dim, a.name, a.type])).toEqual([
      [0, 'λ', 'value'],
      [1, 'τ', 'category'],
      [2, 'lr', 'value'],
      [3, 'Loss', 'value'],
    ]);
    expect(d.axes[1]!.data).toEqual(['official', 'paper']);
    expect(d.lines).toEqual([
      { id: 1, name: '#1 a', value: [0, 'paper', 1e-4, 1.5] },
      { id: 2, name: '#2 b', value: [1, 'official', 2e-4, 0.5] },
      { id: 3, name: '#3 c', value: [0.5, 'paper', 2e-4, null] },
    ]);
    expect(d.range).toEqual([0.5, 1.5]);
  });

  it('colours by the result axis over its range, and hides the colour scale when no run has a result', () => {
    const opt = parallelOption(parallelData(runs, ['lambda'], 'loss'), false) as {
      visualMap: { dimension: number; min: number; max: number; show: boolean };
      series: { type: string; data: unknown[] }[];
    };
    expect([opt.visualMap.dimension, opt.visualMap.min, opt.visualMap.max, opt.visualMap.show]).toEqual([
      1,
      0.5,
      1.5,
      true,
    ]);
    expect(opt.series[0]!.type).toBe('parallel');
    expect(opt.series[0]!.data).toHaveLength(3);
    const none = parallelOption(parallelData(runs, ['lambda'], 'gap'), true) as { visualMap: { show: boolean } };
    expect(none.visualMap.show).toBe(false);
  });
});
