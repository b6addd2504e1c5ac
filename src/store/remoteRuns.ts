/**
 * Runs that train elsewhere (issue 16: a Slurm cluster): which job runs them, where their folder is on the
 * cluster (`target`, the executor's JSON; the store does not read it), how far their engine messages are
 * ingested, what Slurm said last, and which studio process ingests them now (one at a time, like a run's owner).
 */
import type { RunStatus } from '../shared/records';
import { now, type Row, type StoreDb } from './db';
import { isOwnerAlive, type Owner } from './owner';

/** How the last attempt's engine ended, as its messages said (null: no end since its last 'started'). */
export interface AttemptEnd {
  status: RunStatus;
  reason: string | null;
}

export interface RemoteRunRecord {
  runId: number;
  executor: 'slurm';
  target: unknown;
  jobId: number;
  taskId: number;
  /** The array task as scancel and scontrol name it: "12_3". */
  ref: string;
  /** Bytes of the messages file already recorded. */
  offset: number;
  attemptEnd: AttemptEnd | null;
  slurmState: string | null;
  slurmReason: string | null;
  /** What the user asked for when cancelling ('stopped' or 'paused'), to tell it from other cancellations. */
  stopIntent: 'stopped' | 'paused' | null;
  /** Slurm will not run it again and its messages are all recorded. */
  final: boolean;
  owner: Owner | null;
}

const toRecord = (r: Row): RemoteRunRecord => ({
  runId: Number(r.run_id),
  executor: 'slurm',
  target: JSON.parse(String(r.target)),
  jobId: Number(r.job_id),
  taskId: Number(r.task_id),
  ref: `${r.job_id}_${r.task_id}`,
  offset: Number(r.messages_offset),
  attemptEnd: r.attempt_end ? (JSON.parse(String(r.attempt_end)) as AttemptEnd) : null,
  slurmState: (r.slurm_state as string | null) ?? null,
  slurmReason: (r.slurm_reason as string | null) ?? null,
  stopIntent: (r.stop_intent as 'stopped' | 'paused' | null) ?? null,
  final: Number(r.final) === 1,
  owner: r.owner_pid === null ? null : { pid: Number(r.owner_pid), start: String(r.owner_start ?? '') },
});

export class RemoteRuns {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      insert: d.prepare(`INSERT INTO remote_runs (run_id, executor, target, job_id, task_id, updated_at)
        VALUES (@runId, 'slurm', @target, @jobId, @taskId, @at)`),
      resubmit: d.prepare(`UPDATE remote_runs SET target = @target, job_id = @jobId, task_id = @taskId,
        attempt_end = NULL, slurm_state = NULL, slurm_reason = NULL, stop_intent = NULL, final = 0, updated_at = @at
        WHERE run_id = @runId`),
      get: d.prepare('SELECT * FROM remote_runs WHERE run_id = ?'),
      live: d.prepare('SELECT * FROM remote_runs WHERE final = 0 ORDER BY run_id'),
      setIngested: d.prepare(`UPDATE remote_runs SET messages_offset = @offset, attempt_end = @end, updated_at = @at
        WHERE run_id = @runId`),
      setSlurm: d.prepare(`UPDATE remote_runs SET slurm_state = @state, slurm_reason = @reason, updated_at = @at
        WHERE run_id = @runId`),
      setIntent: d.prepare('UPDATE remote_runs SET stop_intent = ? WHERE run_id = ?'),
      setFinal: d.prepare('UPDATE remote_runs SET final = 1, owner_pid = NULL, owner_start = NULL WHERE run_id = ?'),
      setOwner: d.prepare('UPDATE remote_runs SET owner_pid = ?, owner_start = ? WHERE run_id = ?'),
      // Like setStatus, without an owner process: nothing here dies with a studio process.
      status: d.prepare(`UPDATE runs SET status = @status, failure_reason = @reason, owner_pid = NULL,
        owner_start = NULL,
        started_at = CASE WHEN @status = 'running' THEN COALESCE(started_at, @at) ELSE started_at END,
        ended_at = CASE WHEN @status IN ('completed','failed','stopped','interrupted','paused') THEN @at
          WHEN @status IN ('queued','running') THEN NULL ELSE ended_at END
        WHERE id = @id AND (status IS NOT @status OR failure_reason IS NOT @reason)`),
    };
  }

  /** Records that `runId` now runs as task `taskId` of Slurm array job `jobId`. */
  add(runId: number, target: unknown, jobId: number, taskId: number): void {
    this.s.insert.run({ runId, target: JSON.stringify(target), jobId, taskId, at: now() });
  }

  /** The run was sent again (a resume): a new job, the same messages file, so the offset stays. */
  resubmitted(runId: number, target: unknown, jobId: number, taskId: number): void {
    this.s.resubmit.run({ runId, target: JSON.stringify(target), jobId, taskId, at: now() });
  }

  get(runId: number): RemoteRunRecord | undefined {
    const r = this.s.get.get(runId) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Runs Slurm may still run, or whose messages are not all recorded yet. */
  live(): RemoteRunRecord[] {
    return (this.s.live.all() as Row[]).map(toRecord);
  }

  /** Inside the transaction that recorded the messages up to `offset`. */
  setIngested(runId: number, offset: number, end: AttemptEnd | null): void {
    this.s.setIngested.run({ runId, offset, end: end ? JSON.stringify(end) : null, at: now() });
  }

  setSlurm(runId: number, state: string | null, reason: string | null): void {
    this.s.setSlurm.run({ runId, state, reason, at: now() });
  }

  setStopIntent(runId: number, intent: 'stopped' | 'paused' | null): void {
    this.s.setIntent.run(intent, runId);
  }

  markFinal(runId: number): void {
    this.s.setFinal.run(runId);
  }

  /** The run's status as the executor derived it; true when it changed. */
  applyStatus(runId: number, status: RunStatus, reason: string | null): boolean {
    return this.s.status.run({ id: runId, status, reason, at: now() }).changes > 0;
  }

  /**
   * Makes `owner` the one process that polls and ingests the run, unless another live process already is.
   * True when `owner` holds it now.
   */
  claim(runId: number, owner: Owner): boolean {
    const seen = this.get(runId);
    // The common case, every poll: already ours, no write needed.
    if (seen && !seen.final && seen.owner?.pid === owner.pid && seen.owner.start === owner.start) return true;
    return this.sql.write(() => {
      const r = this.get(runId);
      if (!r || r.final) return false;
      const mine = r.owner?.pid === owner.pid && r.owner.start === owner.start;
      if (r.owner && !mine && isOwnerAlive(r.owner)) return false;
      if (!mine) this.s.setOwner.run(owner.pid, owner.start, runId);
      return true;
    });
  }

  release(runId: number, owner: Owner): void {
    const r = this.get(runId);
    if (r?.owner?.pid === owner.pid && r.owner.start === owner.start) this.s.setOwner.run(null, null, runId);
  }
}
