/**
 * Metric points of runs: (run, name, step) -> value, names interned in metric_names. Series are read
 * from one snapshot and downsampled with LTTB so spikes survive.
 */
import { lttbIndices } from '../shared/lttb';
import type { Series } from '../shared/records';
import type { StoreDb } from './db';

export interface MetricPoint {
  step: number;
  name: string;
  value: number;
}

export class Metrics {
  private readonly s;
  private readonly ids = new Map<string, number>();

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      nameId: d.prepare('SELECT id FROM metric_names WHERE name = ?'),
      insertName: d.prepare('INSERT INTO metric_names (name) VALUES (?)'),
      insert: d.prepare('INSERT OR REPLACE INTO metrics (run_id, name_id, step, value) VALUES (?, ?, ?, ?)'),
      namesOf: d.prepare(`SELECT DISTINCT n.name FROM metrics m JOIN metric_names n ON n.id = m.name_id
        WHERE m.run_id = ? ORDER BY n.name`).pluck(),
      // Two plucked columns are about twice as fast as one array per row on a 1M-point series.
      steps: d.prepare('SELECT step FROM metrics WHERE run_id = ? AND name_id = ? ORDER BY step').pluck(),
      values: d.prepare('SELECT value FROM metrics WHERE run_id = ? AND name_id = ? ORDER BY step').pluck(),
      all: d.prepare(`SELECT m.step, n.name, m.value FROM metrics m JOIN metric_names n ON n.id = m.name_id
        WHERE m.run_id = ? ORDER BY m.step, n.name`).raw(true),
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

  /** Inside a caller's transaction. */
  insert(runId: number, points: MetricPoint[]): void {
    for (const p of points) this.s.insert.run(runId, this.nameId(p.name), p.step, p.value);
  }

  names(runId: number): string[] {
    return this.s.namesOf.all(runId) as string[];
  }

  /** One series, downsampled with LTTB to at most maxPoints (spikes survive). */
  series(runId: number, name: string, maxPoints = 2000): Series {
    const id = this.ids.get(name) ?? (this.s.nameId.get(name) as { id: number } | undefined)?.id;
    if (id === undefined) return { name, steps: [], values: [], total: 0 };
    // One read transaction: both columns come from the same snapshot while a writer appends.
    const [steps, values] = this.sql.read((): [number[], number[]] => [
      this.s.steps.all(runId, id) as number[],
      this.s.values.all(runId, id) as number[],
    ]);
    const n = steps.length;
    if (n <= maxPoints) return { name, steps, values, total: n };
    const idx = lttbIndices(steps, values, maxPoints);
    return { name, steps: idx.map((i) => steps[i]!), values: idx.map((i) => values[i]!), total: n };
  }

  /** The same metric of several runs for an overlay, each downsampled to maxPoints over the common step range. */
  overlay(runIds: number[], name: string, maxPoints = 2000): { runId: number; series: Series }[] {
    return runIds.map((runId) => ({ runId, series: this.series(runId, name, maxPoints) }));
  }

  /** Every metric point of a run: [step, name, value], by step. */
  all(runId: number): [number, string, number][] {
    return this.s.all.all(runId) as [number, string, number][];
  }
}
