/**
 * What a run's checkpoints produce besides metrics: sample grids, estimation-gap curves, and the record
 * of exported files.
 */
import type Database from 'better-sqlite3';
import type { GapRecord, SampleRecord } from '../shared/records';
import { now, type Row, type StoreDb } from './db';
import { toGap, toSample } from './rows';

export type NewSample = Omit<SampleRecord, 'id' | 'createdAt'>;
export type NewGap = Omit<GapRecord, 'weights' | 'n'> & {
  weights?: GapRecord['weights'];
  n?: number | null;
  path?: string;
};

export class Samples {
  private readonly s;

  constructor(sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      insert: d.prepare(`INSERT INTO samples (run_id, checkpoint_id, step, sampler, sample_steps, spacing, eta, seed, n,
        ema, path, created_at) VALUES (@runId, @checkpointId, @step, @sampler, @sampleSteps, @spacing, @eta, @seed, @n,
        @ema, @path, @createdAt)`),
      ofRun: d.prepare('SELECT * FROM samples WHERE run_id = ? ORDER BY step, id'),
      ofCheckpoint: d.prepare('SELECT * FROM samples WHERE checkpoint_id = ? ORDER BY id'),
      byId: d.prepare('SELECT * FROM samples WHERE id = ?'),
    };
  }

  add(s: NewSample): SampleRecord {
    const info = this.s.insert.run({ ...s, ema: s.ema ? 1 : 0, createdAt: now() });
    return toSample(this.s.byId.get(Number(info.lastInsertRowid)) as Row);
  }

  /** A run's samples by step. */
  list(runId: number): SampleRecord[] {
    return (this.s.ofRun.all(runId) as Row[]).map(toSample);
  }

  ofCheckpoint(checkpointId: number): SampleRecord[] {
    return (this.s.ofCheckpoint.all(checkpointId) as Row[]).map(toSample);
  }

  get(id: number): SampleRecord | undefined {
    const r = this.s.byId.get(id) as Row | undefined;
    return r ? toSample(r) : undefined;
  }
}

/**
 * Sets a run's final_gap (the experiment table's "Gap |D|"): the last value (t = 1) of the mean |D| of its latest
 * curve, the training monitor's (raw weights) first when several were measured at that step.
 */
export const UPDATE_FINAL_GAP_SQL = `UPDATE runs SET final_gap = (SELECT json_extract(g.mean_abs, '$[#-1]')
  FROM gap_curves g WHERE g.run_id = runs.id ORDER BY g.step DESC, g.weights = 'raw' DESC, g.t0 DESC LIMIT 1)
  WHERE id = ?`;

export class GapCurves {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      finalGap: d.prepare(UPDATE_FINAL_GAP_SQL),
      insert: d.prepare(`INSERT OR REPLACE INTO gap_curves (run_id, step, t0, weights, n, t, mean_abs, l2, signed_mean,
        path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      ofRun: d.prepare('SELECT * FROM gap_curves WHERE run_id = ? ORDER BY step, t0, weights'),
    };
  }

  /** One curve per (run, step, t0, weights): measuring again replaces it. */
  add(g: NewGap): void {
    this.sql.write(() => {
      this.s.insert.run(
        g.runId,
        g.step,
        g.t0,
        g.weights ?? 'raw',
        g.n ?? null,
        JSON.stringify(g.t),
        JSON.stringify(g.meanAbs),
        JSON.stringify(g.l2),
        JSON.stringify(g.signedMean),
        g.path ?? null,
      );
      this.s.finalGap.run(g.runId);
    });
  }

  list(runId: number): GapRecord[] {
    return (this.s.ofRun.all(runId) as Row[]).map(toGap);
  }
}

export class Exports {
  private readonly insert: Database.Statement;

  constructor(sql: StoreDb) {
    this.insert = sql.conn.prepare(
      'INSERT INTO exports (run_id, kind, path, bytes, created_at) VALUES (?, ?, ?, ?, ?)',
    );
  }

  record(runId: number | null, kind: string, path: string, bytes: number): void {
    this.insert.run(runId, kind, path, bytes, now());
  }
}
