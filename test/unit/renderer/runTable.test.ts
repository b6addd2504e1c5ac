// @vitest-environment happy-dom
/**
 * The experiment table (issue 15): filters typed under a header become store conditions (or an error naming
 * the column), cells and group statistics read as the table shows them, and the table's store asks the run
 * store for one sorted, filtered page (and the groups) and remembers the columns shown.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createPinia, setActivePinia } from 'pinia';
import { setApi } from '../../../src/renderer/src/api';
import { cellValue, fmtCell, fmtStat, parseFilter } from '../../../src/renderer/src/runTable';
import { COLUMNS_KEY, useRunTableStore } from '../../../src/renderer/src/stores/runTable';
import { RunConditionSchema, type RunSortKey } from '../../../src/shared/runColumns';
import { resolveRunConfig } from '../../../src/shared/config';
import { FakeApi, runRecord } from './fakeApi';

describe('a filter typed under a header', () => {
  it('reads comparisons, bare numbers and lists on number columns', () => {
    expect(parseFilter('lambda', '>0.5').cond).toEqual({ key: 'lambda', op: 'gt', value: 0.5 });
    expect(parseFilter('lr', '<= 1e-3').cond).toEqual({ key: 'lr', op: 'le', value: 1e-3 });
    expect(parseFilter('k', '!=1').cond).toEqual({ key: 'k', op: 'ne', value: 1 });
    expect(parseFilter('seed', '2').cond).toEqual({ key: 'seed', op: 'eq', value: 2 });
    expect(parseFilter('lambda', '0, 0.5').cond).toEqual({ key: 'lambda', op: 'in', value: [0, 0.5] });
    expect(parseFilter('eval:fid:inception', '<30').cond).toEqual({ key: 'eval:fid:inception', op: 'lt', value: 30 });
    expect(parseFilter('loss', '   ')).toEqual({ cond: null, error: null });
  });

  it('matches part of a text column, or all of it after =', () => {
    expect(parseFilter('dataset', 'cifar').cond).toEqual({ key: 'dataset', op: 'contains', value: 'cifar' });
    expect(parseFilter('status', '=completed').cond).toEqual({ key: 'status', op: 'eq', value: 'completed' });
  });

  it('names the column and the text that is not a number', () => {
    expect(parseFilter('lambda', '>abc')).toEqual({
      cond: null,
      error: "λ: 'abc' is not a number (try >0.5, <=1e-3, !=0, 2, or a list 0, 0.5)",
    });
    expect(parseFilter('lr', '1e-3, x').error).toMatch(/^lr: 'x' is not a number/);
    expect(parseFilter('k', '>').error).toMatch(/^K: '>' is not a number/);
    // A list with no number in it (found by the property below), and one longer than the store takes.
    expect(parseFilter('lambda', ',')).toEqual({ cond: null, error: 'λ: a list takes 1 to 200 numbers, got 0' });
    expect(parseFilter('lambda', ' , ,').error).toBe('λ: a list takes 1 to 200 numbers, got 0');
    const long = parseFilter('seed', Array.from({ length: 201 }, (_, i) => i).join(','));
    expect(long.error).toMatch(/^seed: a list takes 1 to 200 numbers, got 201$/i);
    expect(parseFilter('seed', Array.from({ length: 200 }, (_, i) => i).join(',')).cond?.op).toBe('in');
  });

  it('gives back any number with any comparison, as a condition the contract accepts (property)', () => {
    const ops = [
      ['>=', 'ge'],
      ['<=', 'le'],
      ['!=', 'ne'],
      ['>', 'gt'],
      ['<', 'lt'],
      ['=', 'eq'],
      ['', 'eq'],
    ] as const;
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(...ops),
        fc.constantFrom<RunSortKey>('lambda', 'lr', 'loss', 'gap', 'eval:kid:inception'),
        (v, [sym, op], key) => {
          const r = parseFilter(key, ` ${sym} ${String(v)} `);
          expect(r.error).toBeNull();
          expect(r.cond).toEqual({ key, op, value: Object.is(v, -0) ? 0 : v });
          expect(RunConditionSchema.safeParse(r.cond).success).toBe(true);
        },
      ),
    );
  });

  it('never throws and either errs or gives a valid condition, whatever is typed (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.constantFrom<RunSortKey>('lambda', 'dataset', 'tags'),
        (text, key) => {
          const r = parseFilter(key, text);
          if (r.cond) expect(RunConditionSchema.safeParse(r.cond).success).toBe(true);
          else if (text.trim()) expect(r.error).toContain(': ');
        },
      ),
    );
  });
});

describe('cells and group statistics', () => {
  it('reads config fields, results and evaluation metrics from a run', () => {
    const r = runRecord({
      id: 4,
      lambda: 0.5,
      config: { ...resolveRunConfig({}), lr: 3e-4, tau: 'paper' },
      lastLoss: 1.25,
      summary: { lastSimple: 1, lastSa: 0.5, imagesPerSec: 40, finalGap: 0.2, durationSec: 125 },
      latestEvals: [
        {
          metric: 'fid',
          featureSpace: 'inception',
          value: 31.5,
          std: null,
          step: 10,
          weights: 'ema',
          sampler: 'ddim',
          sampleSteps: 10,
          n: 100,
          createdAt: '2026-01-01T00:00:00Z',
        },
      ],
    });
    expect(
      ['lambda', 'lr', 'tau', 'loss', 'gap', 'ips', 'duration', 'eval:fid:inception', 'eval:kid:inception'].map((k) =>
        cellValue(r, k as RunSortKey),
      ),
    ).toEqual([0.5, 3e-4, 'paper', 1.25, 0.2, 40, 125, 31.5, null]);
    expect(fmtCell('duration', 125)).toMatch(/2.*m/);
    expect(fmtCell('gap', null)).toBe('—');
  });

  it('writes mean ± std, the mean alone for one run, and a dash for none', () => {
    expect(fmtStat('loss', { mean: 1.5, std: 0.25, n: 3 })).toBe('1.5 ± 0.25');
    expect(fmtStat('loss', { mean: 1.5, std: null, n: 1 })).toBe('1.5');
    expect(fmtStat('loss', { mean: null, std: null, n: 0 })).toBe('—');
  });
});

describe('the experiment table store', () => {
  let api: FakeApi;
  const runs = Array.from({ length: 250 }, (_, i) => runRecord({ id: 250 - i, name: `r${250 - i}` }));
  beforeEach(() => {
    setActivePinia(createPinia());
    localStorage.clear();
    api = new FakeApi()
      .handle('runs.list', (f) => ({
        runs: runs.slice(f.offset ?? 0, (f.offset ?? 0) + (f.limit ?? 1000)),
        total: 250,
      }))
      .handle('runs.groups', () => [{ value: 0, count: 2, stats: { loss: { mean: 2, std: 0.5, n: 2 } } }]);
    setApi(api);
  });

  it('asks for one sorted, filtered page, and pages through the total', async () => {
    const t = useRunTableStore();
    await t.load();
    expect(api.callsTo('runs.list')).toEqual([{ where: [], limit: 100, offset: 0, withEvals: true }]);
    expect([t.rows.length, t.total, t.pages]).toEqual([100, 250, 3]);
    t.sortBy('lambda');
    t.sortBy('lambda');
    t.setFilter('lambda', '>=0.5');
    t.setFilter('dataset', 'shapes');
    t.goTo(2);
    await new Promise((r) => setTimeout(r));
    expect(api.callsTo('runs.list').at(-1)).toEqual({
      where: [
        { key: 'lambda', op: 'ge', value: 0.5 },
        { key: 'dataset', op: 'contains', value: 'shapes' },
      ],
      sort: { key: 'lambda', dir: 'desc' },
      limit: 100,
      offset: 200,
      withEvals: true,
    });
    expect(t.rows.map((r) => r.id)).toEqual(runs.slice(200).map((r) => r.id));
    // A filter that does not parse is shown, not sent; the page goes back to the first.
    const before = api.callsTo('runs.list').length;
    t.setFilter('lr', '<x');
    expect(t.filterErrors).toEqual({ lr: expect.stringMatching(/^lr: 'x'/) });
    expect(api.callsTo('runs.list')).toHaveLength(before);
    expect(t.page).toBe(2);
  });

  it('groups by a column with mean ± std of the result columns shown', async () => {
    const t = useRunTableStore();
    t.setColumns(['name', 'lambda', 'seed', 'loss', 'gap', 'eval:fid:inception']);
    t.setFilter('seed', '0, 1');
    t.setGroupBy('lambda');
    await new Promise((r) => setTimeout(r));
    expect(api.callsTo('runs.groups').at(-1)).toEqual({
      filter: { where: [{ key: 'seed', op: 'in', value: [0, 1] }] },
      by: 'lambda',
      columns: ['loss', 'gap', 'eval:fid:inception'],
    });
    expect(t.groups).toHaveLength(1);
  });

  it('drops the filter of a column it hides, and shows the whole table again', async () => {
    const t = useRunTableStore();
    t.setFilter('lambda', '1');
    t.goTo(1);
    t.toggleColumn('lambda');
    await new Promise((r) => setTimeout(r));
    expect(t.where).toEqual([]);
    expect(api.callsTo('runs.list').at(-1)).toMatchObject({ where: [], offset: 0 });
  });

  it('remembers the columns shown, in the table order, and ignores unknown stored keys', () => {
    const t = useRunTableStore();
    t.toggleColumn('schedule');
    t.toggleColumn('id');
    expect(t.columns).toContain('schedule');
    expect(t.columns).not.toContain('id');
    const stored = JSON.parse(localStorage.getItem(COLUMNS_KEY)!) as string[];
    expect(stored).toEqual(t.columns);
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(['nope', 'lambda', 'name']));
    setActivePinia(createPinia());
    expect(useRunTableStore().columns).toEqual(['name', 'lambda']);
  });
});
