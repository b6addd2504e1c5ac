/**
 * Sweeps (issue 16): a grid of runs over K × λ × seeds, each cell a run of its own in the runs table. The
 * sweep keeps what made it (base config, axes, executor and its options) and, for Slurm, its array job.
 */
import type { SweepAxes, SweepCell, SweepRecord, SlurmOptions, ExecutorKind } from '../shared/sweep';
import type { RunStatus } from '../shared/records';
import { now, type Row, type StoreDb } from './db';

export interface NewSweep {
  name: string;
  executor: ExecutorKind;
  base: Record<string, unknown>;
  axes: SweepAxes;
  maxParallel?: number | null;
  slurm?: SlurmOptions | null;
}

export interface NewCell {
  index: number;
  k: number;
  lambda: number;
  seed: number;
  runId: number;
}

const toSweep = (r: Row): SweepRecord => ({
  id: Number(r.id),
  name: String(r.name),
  executor: r.executor as ExecutorKind,
  base: JSON.parse(String(r.base_config)),
  axes: JSON.parse(String(r.axes)),
  maxParallel: r.max_parallel === null ? null : Number(r.max_parallel),
  slurm: r.slurm ? JSON.parse(String(r.slurm)) : null,
  jobId: r.job_id === null ? null : Number(r.job_id),
  createdAt: String(r.created_at),
});

const toCell = (r: Row): SweepCell => ({
  index: Number(r.idx),
  k: Number(r.k),
  lambda: Number(r.lambda),
  seed: Number(r.seed),
  runId: r.run_id === null ? null : Number(r.run_id),
  status: (r.status as RunStatus | null) ?? null,
  reason: (r.failure_reason as string | null) ?? null,
  step: Number(r.step ?? 0),
  totalSteps: Number(r.total_steps ?? 0),
  lastLoss: r.last_loss === null || r.last_loss === undefined ? null : Number(r.last_loss),
  lastCheckpointStep: r.last_ck === null || r.last_ck === undefined ? null : Number(r.last_ck),
  slurmRef: r.job_id === null || r.job_id === undefined ? null : `${r.job_id}_${r.task_id}`,
  slurmState: (r.slurm_state as string | null) ?? null,
});

export class Sweeps {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      insert: d.prepare(`INSERT INTO sweeps (name, executor, base_config, axes, max_parallel, slurm, created_at)
        VALUES (@name, @executor, @base, @axes, @maxParallel, @slurm, @createdAt)`),
      insertCell: d.prepare(`INSERT INTO sweep_cells (sweep_id, idx, run_id, k, lambda, seed)
        VALUES (@sweepId, @index, @runId, @k, @lambda, @seed)`),
      setJob: d.prepare('UPDATE sweeps SET job_id = ? WHERE id = ?'),
      setName: d.prepare('UPDATE sweeps SET name = ? WHERE id = ?'),
      byId: d.prepare('SELECT * FROM sweeps WHERE id = ?'),
      byName: d.prepare('SELECT * FROM sweeps WHERE name = ? ORDER BY id DESC'),
      list: d.prepare('SELECT * FROM sweeps ORDER BY id DESC LIMIT ?'),
      cells: d.prepare(`SELECT c.idx, c.k, c.lambda, c.seed, c.run_id, r.status, r.failure_reason, r.step,
        r.total_steps, r.last_loss, (SELECT MAX(step) FROM checkpoints x WHERE x.run_id = c.run_id) AS last_ck,
        m.job_id, m.task_id, m.slurm_state
        FROM sweep_cells c LEFT JOIN runs r ON r.id = c.run_id LEFT JOIN remote_runs m ON m.run_id = c.run_id
        WHERE c.sweep_id = ? ORDER BY c.idx`),
      ofRun: d.prepare('SELECT sweep_id FROM sweep_cells WHERE run_id = ?').pluck(),
      delete: d.prepare('DELETE FROM sweeps WHERE id = ?'),
    };
  }

  /** The sweep and its cells in one transaction (the caller's, when it also creates the runs). */
  create(sw: NewSweep, cells: readonly NewCell[]): SweepRecord {
    const id = this.sql.write(() => {
      const info = this.s.insert.run({
        name: sw.name,
        executor: sw.executor,
        base: JSON.stringify(sw.base),
        axes: JSON.stringify(sw.axes),
        maxParallel: sw.maxParallel ?? null,
        slurm: sw.slurm ? JSON.stringify(sw.slurm) : null,
        createdAt: now(),
      });
      const sweepId = Number(info.lastInsertRowid);
      for (const c of cells) this.s.insertCell.run({ sweepId, ...c });
      return sweepId;
    });
    return this.get(id)!;
  }

  /** Cells of a sweep created without them (its runs are named after the sweep, so they come second). */
  addCells(id: number, cells: readonly NewCell[]): void {
    this.sql.write(() => {
      for (const c of cells) this.s.insertCell.run({ sweepId: id, ...c });
    });
  }

  rename(id: number, name: string): void {
    this.s.setName.run(name, id);
  }

  setJob(id: number, jobId: number): void {
    this.s.setJob.run(jobId, id);
  }

  get(id: number): SweepRecord | undefined {
    const r = this.s.byId.get(id) as Row | undefined;
    return r ? toSweep(r) : undefined;
  }

  /** A sweep by id ('3', '#3') or name (the newest with that name). */
  find(ref: string): SweepRecord | undefined {
    const m = /^#?(\d+)$/.exec(ref.trim());
    if (m) return this.get(Number(m[1]));
    const r = this.s.byName.get(ref) as Row | undefined;
    return r ? toSweep(r) : undefined;
  }

  list(limit = 1000): SweepRecord[] {
    return (this.s.list.all(limit) as Row[]).map(toSweep);
  }

  /** The grid: each cell with its run's status and progress (runs deleted since keep their cell, runId null). */
  cells(id: number): SweepCell[] {
    return (this.s.cells.all(id) as Row[]).map(toCell);
  }

  /** The sweeps a run belongs to. */
  ofRun(runId: number): number[] {
    return this.s.ofRun.all(runId) as number[];
  }

  /** Forgets the sweep; its runs stay (delete them one by one). */
  delete(id: number): void {
    this.s.delete.run(id);
  }
}
