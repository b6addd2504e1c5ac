import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { RunStore } from '../../../src/store/runStore';
import { dataLayout } from '../../../src/store/dataDir';
import { freshStore, newRun, tmpDir } from './helpers';

describe('metric summary (multi-resolution buckets)', () => {
  it('answers a long series from buckets: every bucket min and max kept, spikes included, within maxPoints', () => {
    const store = freshStore();
    const run = store.runs.create(newRun());
    const n = 50_000;
    const pts = [];
    for (let s = 1; s <= n; s++) pts.push({ step: s, name: 'loss', value: 1 / Math.sqrt(s) + (s === 31_337 ? 9 : 0) });
    // In batches, as the recorder writes them.
    for (let i = 0; i < n; i += 997) store.metrics.append(run.id, pts.slice(i, i + 997));
    const ser = store.metrics.series(run.id, 'loss', 2000);
    expect(ser.total).toBe(n);
    expect(ser.steps.length).toBeLessThanOrEqual(2000);
    expect(ser.steps.length).toBeGreaterThan(500);
    expect(ser.steps[0]).toBe(1);
    expect(ser.steps.at(-1)).toBe(n);
    expect(ser.values.at(-1)).toBeCloseTo(1 / Math.sqrt(n));
    expect(Math.max(...ser.values)).toBeCloseTo(9 + 1 / Math.sqrt(31_337));
    for (let i = 1; i < ser.steps.length; i++) expect(ser.steps[i]!).toBeGreaterThan(ser.steps[i - 1]!);
    // A zoomed range is answered from a finer level: more detail inside it, nothing outside it.
    const zoom = store.metrics.series(run.id, 'loss', 2000, { from: 30_000, to: 33_000 });
    expect(zoom.steps.every((s) => s >= 30_000 && s <= 33_000)).toBe(true);
    expect(zoom.steps.length).toBeGreaterThan(300);
    expect(zoom.values).toContain(pts[31_336]!.value);
    // A range with few points reads its rows, exactly.
    const few = store.metrics.series(run.id, 'loss', 2000, { from: 100, to: 109 });
    expect(few.steps).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    store.close();
  });

  it('keeps the extremes of any range, only stored points inside it, for any points and batches (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 20_000 }), { minLength: 30, maxLength: 400 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (steps, batch, a, b) => {
          const store = freshStore();
          // At this size the rows would answer; the buckets are what is tested.
          store.metrics.summary.minPoints = 0;
          const run = store.runs.create(newRun());
          const points = steps.map((s, i) => ({ step: s, name: 'x', value: Math.sin(s * 0.37 + i) * 100 }));
          for (let i = 0; i < points.length; i += batch) store.metrics.append(run.id, points.slice(i, i + batch));
          const [from, to] = a <= b ? [a, b] : [b, a];
          const ser = store.metrics.series(run.id, 'x', 20, { from, to });
          const inRange = points.filter((p) => p.step >= from && p.step <= to);
          const byStep = new Map(points.map((p) => [p.step, p.value]));
          // Every point returned is a stored point inside the range, in step order.
          ser.steps.forEach((s, i) => {
            expect(s).toBeGreaterThanOrEqual(from);
            expect(s).toBeLessThanOrEqual(to);
            expect(byStep.get(s)).toBe(ser.values[i]);
          });
          if (inRange.length <= 20) {
            expect(ser.steps).toEqual(inRange.map((p) => p.step).sort((x, y) => x - y));
          } else {
            // The range's extremes always show (a spike is never averaged away), within the point budget.
            expect(ser.steps.length).toBeLessThanOrEqual(20);
            expect(ser.values).toContain(Math.max(...inRange.map((p) => p.value)));
            expect(ser.values).toContain(Math.min(...inRange.map((p) => p.value)));
            expect(ser.total).toBeGreaterThanOrEqual(inRange.length);
          }
          store.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rebuilds the summary after a step is overwritten or the run is rewound', () => {
    const store = freshStore();
    store.metrics.summary.minPoints = 0;
    const run = store.runs.create(newRun());
    const pts = Array.from({ length: 5000 }, (_, i) => ({ step: i + 1, name: 'loss', value: 1 }));
    store.metrics.append(run.id, pts);
    expect(Math.max(...store.metrics.series(run.id, 'loss', 100).values)).toBe(1);
    // Step 4000 written again with a spike: the old bucket max (1) must not hide it, nor survive a lower value.
    store.metrics.append(run.id, [{ step: 4000, name: 'loss', value: 50 }]);
    expect(Math.max(...store.metrics.series(run.id, 'loss', 100).values)).toBe(50);
    store.metrics.append(run.id, [{ step: 4000, name: 'loss', value: 0.5 }]);
    const after = store.metrics.series(run.id, 'loss', 100);
    expect(Math.max(...after.values)).toBe(1);
    expect(Math.min(...after.values)).toBe(0.5);
    // A resume from step 3000 cuts the history; the summary follows.
    store.runs.rewind(run.id, 3000);
    const cut = store.metrics.series(run.id, 'loss', 100);
    expect(cut.total).toBe(3000);
    expect(cut.steps.at(-1)).toBe(3000);
    store.close();
  });

  it('summarizes series stored before the summary existed (schema 5) on their first read', () => {
    const root = tmpDir();
    const path = dataLayout(root).db;
    const store = RunStore.open(root);
    const run = store.runs.create(newRun());
    store.metrics.append(
      run.id,
      Array.from({ length: 3000 }, (_, i) => ({ step: i + 1, name: 'loss', value: i % 7 })),
    );
    store.close();
    // As a schema-5 database had it: rows only, no summary tables.
    const raw = new Database(path);
    raw.exec('DROP TABLE metric_buckets; DROP TABLE metric_series;');
    for (const c of [
      'last_simple',
      'last_sa',
      'last_ips',
      'final_gap',
      'cfg_tau',
      'cfg_schedule',
      'cfg_batch',
      'cfg_lr',
    ]) {
      raw.exec(`ALTER TABLE runs DROP COLUMN ${c}`);
    }
    raw.pragma('user_version = 5');
    raw.close();
    const again = RunStore.open(root);
    again.metrics.summary.minPoints = 0;
    expect(again.db.prepare('SELECT points, summarized FROM metric_series').get()).toEqual({
      points: 3000,
      summarized: 0,
    });
    const ser = again.metrics.series(run.id, 'loss', 200);
    expect(ser.total).toBe(3000);
    expect(ser.steps.length).toBeLessThanOrEqual(200);
    expect([Math.min(...ser.values), Math.max(...ser.values)]).toEqual([0, 6]);
    expect(again.db.prepare('SELECT summarized FROM metric_series').pluck().get()).toBe(1);
    again.close();
  });
});
