import { describe, expect, it } from 'vitest';
import { freshStore, newRun } from './helpers';

describe('metrics', () => {
  it('appends points, lists names, returns a full series when it is short', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    store.metrics.append(r.id, [
      { step: 2, name: 'loss', value: 0.5 },
      { step: 1, name: 'loss', value: 0.9 },
      { step: 1, name: 'lr', value: 1e-4 },
    ]);
    store.metrics.append(r.id, []);
    expect(store.metrics.names(r.id)).toEqual(['loss', 'lr']);
    expect(store.metrics.series(r.id, 'loss')).toEqual({ name: 'loss', steps: [1, 2], values: [0.9, 0.5], total: 2 });
    expect(store.metrics.series(r.id, 'unknown')).toEqual({ name: 'unknown', steps: [], values: [], total: 0 });
    expect(store.metrics.all(r.id)).toEqual([
      [1, 'loss', 0.9],
      [1, 'lr', 1e-4],
      [2, 'loss', 0.5],
    ]);
    // Another run's points are separate.
    const other = store.runs.create(newRun());
    store.metrics.append(other.id, [{ step: 1, name: 'loss', value: 7 }]);
    expect(store.metrics.series(r.id, 'loss').total).toBe(2);
    expect(store.metrics.series(other.id, 'loss').values).toEqual([7]);
    // A metric name created by another connection (e.g. the app) is found without a cached id.
    store.close();
  });

  it('a batch is one transaction: a bad point rolls back the whole batch', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    expect(() =>
      store.metrics.append(r.id, [
        { step: 1, name: 'loss', value: 1 },
        { step: 2, name: 'loss', value: null as unknown as number },
      ]),
    ).toThrow();
    expect(store.metrics.series(r.id, 'loss').total).toBe(0);
    store.close();
  });

  it('a rolled-back batch leaves no cached metric id behind: the next batch with that name is written', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    // The name is new: its row is inserted inside the batch's transaction, and goes with the rollback.
    const bad = [
      { step: 1, name: 'fresh', value: 1 },
      { step: 2, name: 'fresh', value: NaN },
    ];
    expect(() => store.metrics.append(r.id, bad)).toThrow();
    expect(() =>
      store.writeTransaction(() => {
        store.metrics.insert(r.id, [{ step: 1, name: 'newer', value: 1 }]);
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    store.metrics.append(r.id, [
      { step: 1, name: 'fresh', value: 2 },
      { step: 1, name: 'newer', value: 3 },
    ]);
    expect(store.metrics.all(r.id)).toEqual([
      [1, 'fresh', 2],
      [1, 'newer', 3],
    ]);
    store.close();
  });

  it('a 1M-point series read as at most 2,000 points keeps the spike, the first and the last point', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    const n = 1_000_000;
    const spikeAt = 612_345;
    const batch = 100_000;
    for (let from = 1; from <= n; from += batch) {
      const pts = [];
      for (let s = from; s < from + batch; s++) {
        pts.push({
          step: s,
          name: 'loss',
          value: s === spikeAt ? 1000 : 1 + 0.1 * Math.sin(s / 1000) + 1e-3 * ((s * 7919) % 13),
        });
      }
      store.metrics.append(r.id, pts);
    }
    const t0 = performance.now();
    const s = store.metrics.series(r.id, 'loss', 2000);
    const ms = performance.now() - t0;
    expect(s.total).toBe(n);
    // From the summary's buckets (min and max of each), so between half the budget and all of it.
    expect(s.steps.length).toBeLessThanOrEqual(2000);
    expect(s.steps.length).toBeGreaterThanOrEqual(1000);
    expect(s.values).toHaveLength(s.steps.length);
    expect(s.steps[0]).toBe(1);
    expect(s.steps.at(-1)).toBe(n);
    expect(s.steps).toContain(spikeAt);
    expect(Math.max(...s.values)).toBe(1000);
    for (let i = 1; i < s.steps.length; i++) expect(s.steps[i]!).toBeGreaterThan(s.steps[i - 1]!);
    console.log(`1M-point series -> 2000 points: ${ms.toFixed(0)} ms`);
    store.close();
  });

  it("seriesOverlay returns each run's series of one metric, downsampled", () => {
    const store = freshStore();
    const a = store.runs.create(newRun());
    const b = store.runs.create(newRun());
    store.metrics.append(
      a.id,
      Array.from({ length: 500 }, (_, i) => ({ step: i + 1, name: 'loss', value: 1 / (i + 1) })),
    );
    store.metrics.append(
      b.id,
      Array.from({ length: 50 }, (_, i) => ({ step: (i + 1) * 10, name: 'loss', value: 2 / (i + 1) })),
    );
    const o = store.metrics.overlay([b.id, a.id], 'loss', 100);
    expect(o.map((x) => x.runId)).toEqual([b.id, a.id]);
    expect(o[0]!.series).toMatchObject({ total: 50 });
    expect(o[0]!.series.steps).toHaveLength(50);
    expect(o[1]!.series).toMatchObject({ total: 500 });
    expect(o[1]!.series.steps).toHaveLength(100);
    expect(o[1]!.series.steps[0]).toBe(1);
    expect(o[1]!.series.steps.at(-1)).toBe(500);
    store.close();
  });
});
