/**
 * Metric points of runs: (run, name, step) -> value, names interned in metric_names. A long series is read
 * from its multi-resolution summary (metricSummary.ts), kept as points arrive; a short one, or one without a
 * summary (a read-only store), is read from one snapshot and downsampled with LTTB, so spikes survive either way.
 */
import { lttbIndices } from '../shared/lttb';
import type { Series } from '../shared/records';
import type { StoreDb } from './db';
import { MetricSummary, type StepRange } from './metricSummary';

export interface MetricPoint {
  step: number;
  name: string;
  value: number;
}

export class Metrics {
  private readonly s;
  private readonly ids = new Map<string, number>();
  readonly summary: MetricSummary;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.summary = new MetricSummary(sql);
    this.s = {
      nameId: d.prepare('SELECT id FROM metric_names WHERE name = ?'),
      insertName: d.prepare('INSERT INTO metric_names (name) VALUES (?)'),
      // A step written again replaces its value: the summary of that series is then rebuilt (see insert).
      // DO NOTHING covers the key only: a NULL value (NaN) still fails, and fails the batch.
      insertNew: d.prepare(`INSERT INTO metrics (run_id, name_id, step, value) VALUES (?, ?, ?, ?)
        ON CONFLICT (run_id, name_id, step) DO NOTHING`),
      replace: d.prepare('UPDATE metrics SET value = ? WHERE run_id = ? AND name_id = ? AND step = ?'),
      namesOf: d
        .prepare(
          `SELECT DISTINCT n.name FROM metrics m JOIN metric_names n ON n.id = m.name_id
        WHERE m.run_id = ? ORDER BY n.name`,
        )
        .pluck(),
      // Two plucked columns are about twice as fast as one array per row on a 1M-point series.
      steps: d
        .prepare(
          `SELECT step FROM metrics WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ?
        ORDER BY step`,
        )
        .pluck(),
      values: d
        .prepare(
          `SELECT value FROM metrics WHERE run_id = ? AND name_id = ? AND step BETWEEN ? AND ?
        ORDER BY step`,
        )
        .pluck(),
      all: d
        .prepare(
          `SELECT m.step, n.name, m.value FROM metrics m JOIN metric_names n ON n.id = m.name_id
        WHERE m.run_id = ? ORDER BY m.step, n.name`,
        )
        .raw(true),
    };
    // A rolled-back transaction may have inserted the names whose ids are cached.
    sql.onRollback(() => this.ids.clear());
  }

  private nameId(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      const r = this.s.nameId.get(name) as { id: number } | undefined;
      id = r ? r.id : Number(this.s.insertName.run(name).lastInsertRowid);
      this.ids.set(name, id);
    }
    return id;
  }

  /** Writes points in one transaction (the caller batches). */
  append(runId: number, points: MetricPoint[]): void {
    if (points.length === 0) return;
    this.sql.write(() => this.insert(runId, points));
  }

  /** Inside a caller's transaction; keeps each series' summary current. */
  insert(runId: number, points: MetricPoint[]): void {
    const added = new Map<number, { steps: number[]; values: number[]; overwrote: boolean }>();
    for (const p of points) {
      const id = this.nameId(p.name);
      let a = added.get(id);
      if (!a) added.set(id, (a = { steps: [], values: [], overwrote: false }));
      if (this.s.insertNew.run(runId, id, p.step, p.value).changes === 1) {
        a.steps.push(p.step);
        a.values.push(p.value);
      } else {
        this.s.replace.run(p.value, runId, id, p.step);
        a.overwrote = true;
      }
    }
    for (const [id, a] of added) this.summary.added(runId, id, a.steps, a.values, a.overwrote);
  }

  names(runId: number): string[] {
    return this.s.namesOf.all(runId) as string[];
  }

  /**
   * One series over a step range (default: all of it), at most about maxPoints points: from the summary's
   * buckets when it is long (their min and max in step order), else its rows, downsampled with LTTB.
   */
  series(runId: number, name: string, maxPoints = 2000, range: StepRange = {}): Series {
    const id = this.ids.get(name) ?? (this.s.nameId.get(name) as { id: number } | undefined)?.id;
    if (id === undefined) return { name, steps: [], values: [], total: 0 };
    const useSummary = this.summary.ready(runId, id, maxPoints);
    const from = range.from ?? Number.MIN_SAFE_INTEGER;
    const to = range.to ?? Number.MAX_SAFE_INTEGER;
    // One read transaction: the buckets, or both columns, come from the same snapshot while a writer appends.
    return this.sql.read((): Series => {
      const summarized = useSummary ? this.summary.read(runId, id, name, maxPoints, range) : null;
      if (summarized) return summarized;
      const steps = this.s.steps.all(runId, id, from, to) as number[];
      const values = this.s.values.all(runId, id, from, to) as number[];
      const n = steps.length;
      if (n <= maxPoints) return { name, steps, values, total: n };
      const idx = lttbIndices(steps, values, maxPoints);
      return { name, steps: idx.map((i) => steps[i]!), values: idx.map((i) => values[i]!), total: n };
    });
  }

  /** The same metric of several runs for an overlay, each at most maxPoints over the step range. */
  overlay(
    runIds: number[],
    name: string,
    maxPoints = 2000,
    range: StepRange = {},
  ): { runId: number; series: Series }[] {
    return runIds.map((runId) => ({ runId, series: this.series(runId, name, maxPoints, range) }));
  }

  /** Every metric point of a run: [step, name, value], by step. */
  all(runId: number): [number, string, number][] {
    return this.s.all.all(runId) as [number, string, number][];
  }
}
