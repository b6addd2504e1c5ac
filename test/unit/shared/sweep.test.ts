/** The sweep grid and its request (issue 16). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cellRunName,
  parseAxisList,
  statusCounts,
  SweepRequestSchema,
  sweepCells,
  sweepSettled,
} from '../../../src/shared/sweep';

describe('sweep grid', () => {
  it('one cell per (K, λ, seed), K outermost and seeds innermost', () => {
    const cells = sweepCells({ k: [1, 2], lambda: [0, 0.5], seeds: [0, 1] });
    expect(cells.map((c) => `${c.k}/${c.lambda}/${c.seed}`)).toEqual([
      '1/0/0',
      '1/0/1',
      '1/0.5/0',
      '1/0.5/1',
      '2/0/0',
      '2/0/1',
      '2/0.5/0',
      '2/0.5/1',
    ]);
    expect(cells.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(cellRunName('lr', cells[3]!)).toBe('lr-k1-l0.5-s1');
  });

  it('property: the grid is the full product, each combination once', () => {
    const axis = fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(axis, axis, axis, (k, lambda, seeds) => {
        const cells = sweepCells({ k: k.map((x) => x + 1), lambda, seeds });
        const keys = new Set(cells.map((c) => `${c.k}/${c.lambda}/${c.seed}`));
        return cells.length === k.length * lambda.length * seeds.length && keys.size === cells.length;
      }),
    );
  });

  it('axis lists: numbers, the flag named when one is not', () => {
    expect(parseAxisList('0, 0.5,1', '--lambda')).toEqual([0, 0.5, 1]);
    expect(() => parseAxisList('1,2.5', '--k', { int: true })).toThrow("--k: '2.5' is not a whole number (in '1,2.5')");
    expect(() => parseAxisList('1,,2', '--seeds')).toThrow(/--seeds: expected comma-separated numbers/);
    expect(() => parseAxisList('x', '--lambda')).toThrow("--lambda: 'x' is not a number");
  });

  it('requests: axes need distinct values in range; Slurm options are checked', () => {
    const ok = { base: {}, axes: { k: [1, 2], lambda: [0], seeds: [0] } };
    expect(SweepRequestSchema.parse(ok)).toMatchObject({ executor: 'local', tags: [] });
    expect(SweepRequestSchema.safeParse({ ...ok, axes: { ...ok.axes, k: [2, 2] } }).success).toBe(false);
    expect(SweepRequestSchema.safeParse({ ...ok, axes: { ...ok.axes, k: [0] } }).success).toBe(false);
    expect(SweepRequestSchema.safeParse({ ...ok, axes: { ...ok.axes, lambda: [-1] } }).success).toBe(false);
    expect(SweepRequestSchema.safeParse({ ...ok, slurm: { time: '2 hours' } }).success).toBe(false);
    expect(SweepRequestSchema.safeParse({ ...ok, slurm: { ssh: '-oProxyCommand=x' } }).success).toBe(false);
    expect(SweepRequestSchema.safeParse({ ...ok, slurm: { remoteDir: 'relative/dir' } }).success).toBe(false);
    expect(SweepRequestSchema.parse({ ...ok, slurm: { time: '1-12:00', gpus: 1, ssh: 'hpc-login' } }).slurm).toEqual({
      time: '1-12:00',
      gpus: 1,
      ssh: 'hpc-login',
    });
  });

  it('status counts and settling', () => {
    const cells = [{ status: 'running' as const }, { status: 'completed' as const }, { status: null }];
    expect(statusCounts(cells)).toEqual({ running: 1, completed: 1, deleted: 1 });
    expect(sweepSettled(cells)).toBe(false);
    expect(sweepSettled([{ status: 'failed' }, { status: 'completed' }])).toBe(true);
  });
});
