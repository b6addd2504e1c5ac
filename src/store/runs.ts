/**
 * The runs table and what hangs on a run as a whole: tags, notes, config, retention policy, status with
 * its owner process (for crash recovery), progress, rewinding before a resume, deletion, disk use.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stripNativeLocations } from '../shared/errorText';
import { slug } from '../shared/naming';
import type { CovConfig } from '../shared/covConfig';
import type { RetentionPolicy, RunFilter, RunKind, RunRecord, RunStatus } from '../shared/records';
import { now, type Row, type StoreDb } from './db';
import { isOwnerAlive, type Owner } from './owner';
import { LATEST_EVALS_SQL, parseLatestEvals } from './evaluations';
import { runFilterSql, runOrderSql } from './runFilter';
import { runOverview } from './runOverview';
import { runGroups } from './runGroups';
import { RUN_COLUMN_SQL } from './runColumnsSql';
import type { RunGroup, RunOverview } from '../shared/runColumns';
import { toRun } from './rows';
import { UPDATE_FINAL_GAP_SQL } from './artifacts';

export interface NewRun {
  name: string;
  /** A covariance run keeps its parent's RunConfig here (its model shape). */
  config: Record<string, unknown> & {
    dataset: string;
    preset: string;
    k: number;
    lambda: number;
    T: number;
    seed: number;
    steps: number;
  };
  datasetId?: number | null;
  status?: RunStatus;
  /** Defaults to <data>/runs/<id>-<slug>. */
  runDir?: string;
  tags?: string[];
  notes?: string;
  retention?: RetentionPolicy;
  appVersion: string;
  /** 'train' (default) or 'cov': a covariance head trained on the frozen network of `parentId`. */
  kind?: RunKind;
  parentId?: number | null;
  cov?: CovConfig | null;
}

/** Tables (and their step column) whose rows past a step are recomputed when a run resumes from that step. */
const STEP_TABLES = [
  ['metrics', 'step'],
  ['gap_curves', 'step'],
  ['samples', 'step'],
  ['checkpoints', 'step'],
  ['eval_results', 'step'],
  ['gamma_estimates', 'checkpoint_step'],
] as const;

export class Runs {
  private readonly s;

  constructor(private readonly sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      insert: d.prepare(`INSERT INTO runs (name, status, config, dataset_id, dataset, preset, k, lambda, T, seed,
        total_steps, run_dir, app_version, notes, retention, created_at, kind, parent_id, cov)
        VALUES (@name, @status, @config, @datasetId, @dataset, @preset, @k, @lambda, @T, @seed, @totalSteps, '',
        @appVersion, @notes, @retention, @createdAt, @kind, @parentId, @cov)`),
      setRunDir: d.prepare('UPDATE runs SET run_dir = ? WHERE id = ?'),
      configColumns: d.prepare(`UPDATE runs SET cfg_tau = json_extract(config, '$.tau'),
        cfg_schedule = json_extract(config, '$.schedule'), cfg_batch = json_extract(config, '$.batch'),
        cfg_lr = json_extract(config, '$.lr') WHERE id = ?`),
      byId: d.prepare('SELECT * FROM runs WHERE id = ?'),
      byName: d.prepare('SELECT * FROM runs WHERE name = ? ORDER BY id DESC'),
      byDir: d.prepare('SELECT * FROM runs WHERE run_dir = ? ORDER BY id DESC'),
      descendantDirs: d
        .prepare(
          `WITH RECURSIVE d(id) AS (SELECT id FROM runs WHERE parent_id = ?
        UNION SELECT r.id FROM runs r JOIN d ON r.parent_id = d.id) SELECT run_dir FROM runs WHERE id IN d`,
        )
        .pluck(),
      tagsOf: d.prepare('SELECT tag FROM run_tags WHERE run_id = ? ORDER BY tag').pluck(),
      addTag: d.prepare('INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)'),
      clearTags: d.prepare('DELETE FROM run_tags WHERE run_id = ?'),
      lastCheckpoint: d.prepare('SELECT step FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1').pluck(),
      setNotes: d.prepare('UPDATE runs SET notes = ? WHERE id = ?'),
      setName: d.prepare('UPDATE runs SET name = ? WHERE id = ?'),
      setConfig: d.prepare('UPDATE runs SET config = @config, total_steps = @totalSteps WHERE id = @id'),
      setCov: d.prepare('UPDATE runs SET cov = @cov, total_steps = @totalSteps WHERE id = @id'),
      setRetention: d.prepare('UPDATE runs SET retention = ? WHERE id = ?'),
      markRunning: d.prepare(`UPDATE runs SET status = 'running', owner_pid = @pid, owner_start = @start,
        started_at = COALESCE(started_at, @at), ended_at = NULL, failure_reason = NULL WHERE id = @id`),
      markQueued: d.prepare(`UPDATE runs SET status = 'queued', owner_pid = @pid, owner_start = @start,
        failure_reason = NULL WHERE id = @id`),
      setBackend: d.prepare('UPDATE runs SET backend = ?, adapter = ? WHERE id = ?'),
      setStatus: d.prepare(`UPDATE runs SET status = @status, failure_reason = @reason, owner_pid = NULL,
        owner_start = NULL, ended_at = CASE
          WHEN @status IN ('completed','failed','stopped','interrupted','paused') THEN @at ELSE ended_at END
        WHERE id = @id`),
      setProgress: d.prepare(
        'UPDATE runs SET step = MAX(step, @step), last_loss = COALESCE(@loss, last_loss) WHERE id = @id',
      ),
      setLastTerms: d.prepare(`UPDATE runs SET last_simple = COALESCE(@simple, last_simple),
        last_sa = COALESCE(@sa, last_sa), last_ips = COALESCE(@ips, last_ips) WHERE id = @id`),
      // The run's history after a step is cut: its metric summaries are rebuilt from the rows that remain.
      unsummarize: d.prepare('UPDATE metric_series SET summarized = 0 WHERE run_id = ?'),
      dropBuckets: d.prepare('DELETE FROM metric_buckets WHERE run_id = ?'),
      finalGap: d.prepare(UPDATE_FINAL_GAP_SQL),
      resetStep: d.prepare('UPDATE runs SET step = ? WHERE id = ?'),
      // Queued runs with an owner sit in that process's queue; without one they were created and not started.
      // Runs on a cluster (remote_runs) live on without a studio process: the executor follows them.
      owned: d.prepare(`SELECT id, status, owner_pid, owner_start FROM runs
        WHERE (status = 'running' OR (status = 'queued' AND owner_pid IS NOT NULL))
        AND NOT EXISTS (SELECT 1 FROM remote_runs x WHERE x.run_id = runs.id AND x.final = 0)`),
      delete: d.prepare('DELETE FROM runs WHERE id = ?'),
      deleteAfter: STEP_TABLES.map(([t, step]) => d.prepare(`DELETE FROM ${t} WHERE run_id = ? AND ${step} > ?`)),
    };
  }

  create(r: NewRun): RunRecord {
    const c = r.config;
    const kind = r.kind ?? 'train';
    this.checkLineage(r, kind);
    const id = this.sql.write(() => {
      const info = this.s.insert.run({
        name: r.name,
        status: r.status ?? 'queued',
        config: JSON.stringify(c),
        datasetId: r.datasetId ?? null,
        dataset: c.dataset,
        preset: c.preset,
        k: c.k,
        lambda: c.lambda,
        T: c.T,
        seed: c.seed,
        totalSteps: kind === 'cov' ? r.cov!.steps : c.steps,
        appVersion: r.appVersion,
        notes: r.notes ?? '',
        retention: r.retention ? JSON.stringify(r.retention) : null,
        createdAt: now(),
        kind,
        parentId: r.parentId ?? null,
        cov: r.cov ? JSON.stringify(r.cov) : null,
      });
      const id = Number(info.lastInsertRowid);
      this.s.setRunDir.run(r.runDir ?? join(this.sql.layout.runs, `${id}-${slug(r.name, 'run')}`), id);
      this.s.configColumns.run(id);
      for (const t of r.tags ?? []) this.s.addTag.run(id, t);
      return id;
    });
    return this.get(id)!;
  }

  /** A covariance run has a trained parent and its own config; a training run has neither. */
  private checkLineage(r: NewRun, kind: RunKind): void {
    const what = `run '${r.name}'`;
    if (kind === 'train') {
      if (r.parentId != null || r.cov != null) {
        throw new Error(`${what}: only a 'cov' run has a parent and a cov config`);
      }
      return;
    }
    if (r.parentId == null || r.cov == null) throw new Error(`${what}: a 'cov' run needs parentId and cov`);
    const parent = this.get(r.parentId);
    if (!parent) throw new Error(`${what}: its parent run #${r.parentId} does not exist`);
    if (parent.kind !== 'train') throw new Error(`${what}: its parent run #${r.parentId} is not a training run`);
  }

  get(id: number): RunRecord | undefined {
    const r = this.s.byId.get(id) as Row | undefined;
    return r ? this.toRecord(r) : undefined;
  }

  /** A run by id ('12', '#12') or by name (the newest with that name). */
  find(ref: string): RunRecord | undefined {
    const m = /^#?(\d+)$/.exec(ref.trim());
    if (m) return this.get(Number(m[1]));
    const r = this.s.byName.get(ref) as Row | undefined;
    return r ? this.toRecord(r) : undefined;
  }

  byDir(dir: string): RunRecord | undefined {
    const r = this.s.byDir.get(dir) as Row | undefined;
    return r ? this.toRecord(r) : undefined;
  }

  require(ref: string): RunRecord {
    const run = this.find(ref);
    if (!run) throw new Error(`no run '${ref}' in ${this.sql.layout.db} (list them with 'sadpm runs')`);
    return run;
  }

  /** Runs matching a filter, newest first (or in the filter's sort order). */
  list(f: RunFilter = {}): RunRecord[] {
    const { sql, params } = runFilterSql(f);
    const order = runOrderSql(f);
    const evals = f.withEvals ? `, ${LATEST_EVALS_SQL} AS evals_json` : '';
    // The page's ids first (only the sort column is computed for every row sorted), then the page's rows with
    // their per-run subqueries, from one snapshot.
    const rows = this.sql.read(() => {
      const ids = this.sql
        .cached(`SELECT r.id FROM runs r ${sql} ${order.sql} LIMIT ? OFFSET ?`)
        .pluck()
        .all(...params, ...order.params, f.limit ?? 1000, f.offset ?? 0) as number[];
      const found = this.sql
        .cached(
          `SELECT r.*, (SELECT group_concat(tag, char(31)) FROM run_tags t WHERE t.run_id = r.id) AS tag_list,
         (SELECT MAX(step) FROM checkpoints c WHERE c.run_id = r.id) AS last_ck${evals},
         ${RUN_COLUMN_SQL.duration} AS duration_sec
         FROM runs r WHERE r.id IN (SELECT value FROM json_each(?))`,
        )
        .all(JSON.stringify(ids)) as Row[];
      const byId = new Map(found.map((r) => [Number(r.id), r]));
      return ids.map((id) => byId.get(id)!);
    });
    return rows.map((r) => {
      const run = this.toRecord(r);
      if (f.withEvals) run.latestEvals = parseLatestEvals(r.evals_json);
      return run;
    });
  }

  /** Runs matching a filter grouped by one column, with mean ± std of other columns per group. */
  groups(f: RunFilter, by: string, columns: string[]): RunGroup[] {
    return runGroups(this.sql, f, by, columns);
  }

  /** Runs by status and kind, and the tags in use (issue 15: the app shell's start). */
  overview(): RunOverview {
    return runOverview(this.sql);
  }

  count(f: RunFilter = {}): number {
    const { sql, params } = runFilterSql(f);
    return (this.sql.cached(`SELECT COUNT(*) AS n FROM runs r ${sql}`).get(...params) as { n: number }).n;
  }

  setTags(id: number, tags: string[]): void {
    this.sql.write(() => {
      this.s.clearTags.run(id);
      for (const t of tags) this.s.addTag.run(id, t);
    });
  }

  setNotes(id: number, notes: string): void {
    this.s.setNotes.run(notes, id);
  }

  rename(id: number, name: string): void {
    this.s.setName.run(name, id);
  }

  updateConfig(id: number, config: Record<string, unknown> & { steps: number }): void {
    this.sql.write(() => {
      this.s.setConfig.run({ id, config: JSON.stringify(config), totalSteps: config.steps });
      this.s.configColumns.run(id);
    });
  }

  /** A covariance run's config (e.g. more steps on resume); its steps are the run's total. */
  updateCov(id: number, cov: CovConfig): void {
    this.s.setCov.run({ id, cov: JSON.stringify(cov), totalSteps: cov.steps });
  }

  setRetention(id: number, policy: RetentionPolicy | null): void {
    this.s.setRetention.run(policy ? JSON.stringify(policy) : null, id);
  }

  retention(id: number): RetentionPolicy | null {
    const r = this.s.byId.get(id) as Row | undefined;
    return r?.retention ? (JSON.parse(String(r.retention)) as RetentionPolicy) : null;
  }

  /** In `owner`'s queue: if that process dies first, recoverInterrupted marks the run interrupted. */
  markQueued(id: number, owner: Owner): void {
    this.s.markQueued.run({ id, pid: owner.pid, start: owner.start });
  }

  markRunning(id: number, owner: Owner): void {
    this.s.markRunning.run({ id, pid: owner.pid, start: owner.start, at: now() });
  }

  setBackend(id: number, backend: string, adapter: string): void {
    this.s.setBackend.run(backend, adapter, id);
  }

  setStatus(id: number, status: RunStatus, reason: string | null = null): void {
    this.s.setStatus.run({ id, status, reason: reason === null ? null : stripNativeLocations(reason), at: now() });
  }

  setProgress(id: number, step: number, loss: number | null): void {
    this.s.setProgress.run({ id, step, loss });
  }

  /** The last logged loss terms and throughput, for the experiment table (null leaves a value as it is). */
  setLastTerms(id: number, t: { simple?: number | null; sa?: number | null; imagesPerSec?: number | null }): void {
    this.s.setLastTerms.run({ id, simple: t.simple ?? null, sa: t.sa ?? null, ips: t.imagesPerSec ?? null });
  }

  /**
   * Runs marked running whose owner process is gone (kill -9, power loss, crash): marks them
   * interrupted and returns their ids. Called whenever a process opens the store to train or serve.
   */
  recoverInterrupted(): number[] {
    const found: { id: number; queued: boolean }[] = [];
    for (const r of this.s.owned.all() as Row[]) {
      const owner = { pid: Number(r.owner_pid ?? 0), start: String(r.owner_start ?? '') };
      if (owner.pid > 0 && isOwnerAlive(owner)) continue;
      found.push({ id: Number(r.id), queued: r.status === 'queued' });
    }
    for (const { id, queued } of found) {
      const ck = this.s.lastCheckpoint.get(id) as number | undefined;
      const what = queued
        ? 'the process that queued this run exited before it started (closed, killed or crashed); resume it to train; '
        : 'the process that trained this run stopped without finishing (killed or crashed); ';
      this.setStatus(
        id,
        'interrupted',
        what + (ck !== undefined ? `last good checkpoint: step ${ck}` : 'no checkpoint was written yet'),
      );
    }
    return found.map((f) => f.id);
  }

  /**
   * Before a resume from `step`: forget what was recorded after it (it will be recomputed), so the
   * metric history stays one continuous series without duplicated steps.
   */
  rewind(id: number, step: number): void {
    this.sql.write(() => {
      for (const del of this.s.deleteAfter) del.run(id, step);
      this.s.unsummarize.run(id);
      this.s.dropBuckets.run(id);
      this.s.finalGap.run(id);
      this.s.resetStep.run(step, id);
    });
  }

  /** Deletes the run and its child runs (covariance heads trained on it), with their folders under runs/. */
  delete(id: number, opts: { deleteFiles: boolean }): void {
    const run = this.get(id);
    if (!run) return;
    const dirs = [run.runDir, ...(this.s.descendantDirs.all(id) as string[])];
    this.s.delete.run(id);
    if (!opts.deleteFiles) return;
    for (const dir of dirs) if (dir.startsWith(this.sql.layout.runs)) rmSync(dir, { recursive: true, force: true });
  }

  /** Bytes on disk of a run's folder, by kind of file. */
  diskUse(id: number): { total: number; checkpoints: number; samples: number; other: number } {
    const run = this.get(id);
    const out = { total: 0, checkpoints: 0, samples: 0, other: 0 };
    if (!run || !existsSync(run.runDir)) return out;
    const walk = (dir: string, kind: 'checkpoints' | 'samples' | 'other') => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) {
          walk(p, e.name === 'checkpoints' ? 'checkpoints' : e.name === 'samples' ? 'samples' : kind);
        } else if (e.isFile()) {
          const b = statSync(p).size;
          out[kind] += b;
          out.total += b;
        }
      }
    };
    walk(run.runDir, 'other');
    return out;
  }

  private toRecord(r: Row): RunRecord {
    const tags =
      r.tag_list !== undefined
        ? r.tag_list
          ? String(r.tag_list).split('\u001f').sort()
          : []
        : (this.s.tagsOf.all(r.id) as string[]);
    return toRun(r, tags, r.last_ck !== undefined ? r.last_ck : this.s.lastCheckpoint.get(r.id));
  }
}
