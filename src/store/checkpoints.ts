/**
 * Checkpoint rows of runs (the files are the engine's, under each run folder) and retention: which
 * checkpoints a policy keeps, and pruning the rest.
 */
import { rmSync } from 'node:fs';
import type { CheckpointRecord, RetentionPolicy } from '../shared/records';
import { now, type Row, type StoreDb } from './db';
import { planRetention, type RetentionPlan } from './retention';
import { toCheckpoint } from './rows';

export type NewCheckpoint = Omit<CheckpointRecord, 'id' | 'createdAt'>;

export class Checkpoints {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      insert: d.prepare(`INSERT OR REPLACE INTO checkpoints (run_id, step, kind, path, bytes, metrics, created_at)
        VALUES (@runId, @step, @kind, @path, @bytes, @metrics, @createdAt)`),
      ofRun: d.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step'),
      byId: d.prepare('SELECT * FROM checkpoints WHERE id = ?'),
      at: d.prepare('SELECT * FROM checkpoints WHERE run_id = ? AND step = ? ORDER BY kind LIMIT 1'),
      latest: d.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1'),
      delete: d.prepare('DELETE FROM checkpoints WHERE id = ?'),
    };
  }

  add(c: NewCheckpoint): CheckpointRecord {
    this.s.insert.run({ ...c, metrics: JSON.stringify(c.metrics), createdAt: now() });
    return toCheckpoint(this.s.at.get(c.runId, c.step) as Row);
  }

  /** A run's checkpoints by step. */
  list(runId: number): CheckpointRecord[] {
    return (this.s.ofRun.all(runId) as Row[]).map(toCheckpoint);
  }

  get(id: number): CheckpointRecord | undefined {
    const r = this.s.byId.get(id) as Row | undefined;
    return r ? toCheckpoint(r) : undefined;
  }

  at(runId: number, step: number): CheckpointRecord | undefined {
    const r = this.s.at.get(runId, step) as Row | undefined;
    return r ? toCheckpoint(r) : undefined;
  }

  latest(runId: number): CheckpointRecord | undefined {
    const r = this.s.latest.get(runId) as Row | undefined;
    return r ? toCheckpoint(r) : undefined;
  }

  /** What a policy would delete; nothing is changed. */
  planPrune(runId: number, policy: RetentionPolicy): RetentionPlan {
    return planRetention(this.list(runId), policy);
  }

  /** Deletes the plan's checkpoints: rows first (in one transaction), then files. */
  prune(runId: number, policy: RetentionPolicy): RetentionPlan {
    const plan = this.planPrune(runId, policy);
    this.sql.write(() => {
      for (const c of plan.remove) this.s.delete.run(c.id);
    });
    // A crash between the two leaves orphan files, never a row that points at nothing.
    for (const c of plan.remove) rmSync(c.path, { force: true });
    return plan;
  }
}
