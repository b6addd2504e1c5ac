/**
 * RunStore: the one owner of the SQLite connection. WAL, foreign keys, a busy timeout, statements
 * prepared once, migrations keyed by PRAGMA user_version. Metadata lives here; checkpoints, packed
 * datasets and images are files under the data folder, referenced by path.
 */
import Database from 'better-sqlite3';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { dataLayout, ensureDataFolders, type DataLayout } from './dataDir';
import { stripNativeLocations } from '../shared/errorText';
import { isOwnerAlive, isTagAlive, type Owner } from './owner';
import { planRetention, type RetentionPlan } from './retention';
import { lttbIndices } from '../shared/lttb';
import { slug } from '../shared/naming';
import type {
  CheckpointRecord,
  DatasetRecord,
  GapRecord,
  RetentionPolicy,
  RunFilter,
  RunRecord,
  RunStatus,
  SampleRecord,
  Series,
} from '../shared/records';

type Row = Record<string, unknown>;

export interface NewRun {
  name: string;
  config: Record<string, unknown> & { dataset: string; preset: string; k: number; lambda: number; T: number; seed: number; steps: number };
  datasetId?: number | null;
  status?: RunStatus;
  /** Defaults to <data>/runs/<id>-<slug>. */
  runDir?: string;
  tags?: string[];
  notes?: string;
  retention?: RetentionPolicy;
  appVersion: string;
}

export interface MetricPoint {
  step: number;
  name: string;
  value: number;
}

export type NewDataset = Omit<DatasetRecord, 'id' | 'createdAt'>;

export interface StoreOptions {
  readonly?: boolean;
  /** How long a write waits for another connection's lock before SQLITE_BUSY (SADPM_DB_BUSY_TIMEOUT_MS, 5000). */
  busyTimeoutMs?: number;
  /** A size cap on the database (SADPM_DB_MAX_BYTES): writes past it fail with SQLITE_FULL, like a full disk. */
  maxBytes?: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}=${raw}: expected a positive whole number`);
  return v;
}

/**
 * Temp files of dataset imports in <data>/datasets: `.import-<owner>-<stamp>.{sadpm-ds,png}` (named by
 * the importing process; <owner> is an ownerTag, or a bare pid in older releases) and the engine's
 * atomic-write temp of those, `..import-<owner>-<stamp>.sadpm-ds.<engine pid>.<n>.tmp`.
 */
const IMPORT_TEMP = /^\.?\.import-(\d+)-(?:([0-9a-f]{8})-)?[0-9a-z]+\.(?:sadpm-ds|png)(?:\.(\d+)\.\d+\.tmp)?$/;
/** An export's atomic-write temp in <data>/exports: `.<name>.<writer pid>.<n>.tmp`. */
const EXPORT_TEMP = /^\..+\.(\d+)\.\d+\.tmp$/;

/** The processes that write a temp file, from its name; null for a name that is not one of our temp files. */
type TempWriters = { owner: number; hash?: string; engine?: number } | null;

function importTempWriters(name: string): TempWriters {
  const m = IMPORT_TEMP.exec(name);
  return m ? { owner: Number(m[1]), hash: m[2], engine: m[3] ? Number(m[3]) : undefined } : null;
}

function exportTempWriters(name: string): TempWriters {
  const m = EXPORT_TEMP.exec(name);
  return m ? { owner: Number(m[1]) } : null;
}

const now = () => new Date().toISOString();

export class RunStore {
  readonly db: Database.Database;
  readonly layout: DataLayout;
  private readonly stmts;
  private readonly metricIds = new Map<string, number>();
  private readonly filterCache = new Map<string, Database.Statement>();

  private constructor(root: string, opts: StoreOptions = {}) {
    this.layout = dataLayout(root);
    ensureDataFolders(this.layout);
    try {
      this.db = new Database(this.layout.db, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
    } catch (err) {
      throw new Error(`cannot open the run database ${this.layout.db}: ${(err as Error).message}`);
    }
    try {
      this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? envInt(process.env, 'SADPM_DB_BUSY_TIMEOUT_MS') ?? 5000}`);
      // Check the version before anything that writes (switching to WAL rewrites the file header).
      this.assertKnownVersion();
      if (!opts.readonly) this.db.pragma('journal_mode = WAL');
      this.db.pragma('foreign_keys = ON');
      // WAL with synchronous=NORMAL is durable against process crashes; a power loss can drop the
      // last transactions but never corrupts the database.
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
      const maxBytes = opts.maxBytes ?? envInt(process.env, 'SADPM_DB_MAX_BYTES');
      if (maxBytes !== undefined) {
        const page = this.db.pragma('page_size', { simple: true }) as number;
        this.db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / page))}`);
      }
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.stmts = this.prepare();
  }

  static open(root: string, opts: StoreOptions = {}): RunStore {
    return new RunStore(root, opts);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private assertKnownVersion(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the run database ${this.layout.db} has schema version ${version}, but this version of SA-DPM Studio knows ` +
          `versions up to ${SCHEMA_VERSION}: it was written by a newer release. Update SA-DPM Studio, or point ` +
          `--data-dir / SADPM_HOME at another folder. The database was not changed.`,
      );
    }
  }

  private migrate(): void {
    this.assertKnownVersion();
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < SCHEMA_VERSION; v++) {
      const sql = MIGRATIONS[v]!;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private prepare() {
    const d = this.db;
    return {
      insertDataset: d.prepare(`INSERT INTO datasets (name, source, format, count, height, width, channels, checksum, path,
        preview_path, bytes, class_counts, class_names, good, skipped, created_at)
        VALUES (@name, @source, @format, @count, @height, @width, @channels, @checksum, @path, @previewPath, @bytes,
        @classCounts, @classNames, @good, @skipped, @createdAt)`),
      datasetById: d.prepare('SELECT * FROM datasets WHERE id = ?'),
      datasetByName: d.prepare('SELECT * FROM datasets WHERE name = ?'),
      datasetByChecksum: d.prepare('SELECT * FROM datasets WHERE checksum = ?'),
      datasetByPath: d.prepare('SELECT * FROM datasets WHERE path = ?'),
      listDatasets: d.prepare('SELECT * FROM datasets ORDER BY id'),
      deleteDataset: d.prepare('DELETE FROM datasets WHERE id = ?'),
      insertRun: d.prepare(`INSERT INTO runs (name, status, config, dataset_id, dataset, preset, k, lambda, T, seed, total_steps,
        run_dir, app_version, notes, retention, created_at)
        VALUES (@name, @status, @config, @datasetId, @dataset, @preset, @k, @lambda, @T, @seed, @totalSteps, '', @appVersion,
        @notes, @retention, @createdAt)`),
      setRunDir: d.prepare('UPDATE runs SET run_dir = ? WHERE id = ?'),
      runById: d.prepare('SELECT * FROM runs WHERE id = ?'),
      runsByName: d.prepare('SELECT * FROM runs WHERE name = ? ORDER BY id DESC'),
      runByDir: d.prepare('SELECT * FROM runs WHERE run_dir = ? ORDER BY id DESC'),
      tagsOf: d.prepare('SELECT tag FROM run_tags WHERE run_id = ? ORDER BY tag'),
      addTag: d.prepare('INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)'),
      clearTags: d.prepare('DELETE FROM run_tags WHERE run_id = ?'),
      setNotes: d.prepare('UPDATE runs SET notes = ? WHERE id = ?'),
      setName: d.prepare('UPDATE runs SET name = ? WHERE id = ?'),
      setConfig: d.prepare('UPDATE runs SET config = @config, total_steps = @totalSteps WHERE id = @id'),
      setRetention: d.prepare('UPDATE runs SET retention = ? WHERE id = ?'),
      markRunning: d.prepare(`UPDATE runs SET status = 'running', owner_pid = @pid, owner_start = @start,
        started_at = COALESCE(started_at, @at), ended_at = NULL, failure_reason = NULL WHERE id = @id`),
      markQueued: d.prepare(`UPDATE runs SET status = 'queued', owner_pid = @pid, owner_start = @start, failure_reason = NULL WHERE id = @id`),
      setBackend: d.prepare('UPDATE runs SET backend = ?, adapter = ? WHERE id = ?'),
      setStatus: d.prepare(`UPDATE runs SET status = @status, failure_reason = @reason, owner_pid = NULL, owner_start = NULL,
        ended_at = CASE WHEN @status IN ('completed','failed','stopped','interrupted','paused') THEN @at ELSE ended_at END
        WHERE id = @id`),
      setProgress: d.prepare('UPDATE runs SET step = MAX(step, @step), last_loss = COALESCE(@loss, last_loss) WHERE id = @id'),
      resetStep: d.prepare('UPDATE runs SET step = ? WHERE id = ?'),
      // Queued runs with an owner sit in that process's queue; without one they were created and not started.
      ownedRuns: d.prepare(`SELECT id, status, owner_pid, owner_start FROM runs
        WHERE status = 'running' OR (status = 'queued' AND owner_pid IS NOT NULL)`),
      deleteRun: d.prepare('DELETE FROM runs WHERE id = ?'),
      metricName: d.prepare('SELECT id FROM metric_names WHERE name = ?'),
      insertMetricName: d.prepare('INSERT INTO metric_names (name) VALUES (?)'),
      insertMetric: d.prepare('INSERT OR REPLACE INTO metrics (run_id, name_id, step, value) VALUES (?, ?, ?, ?)'),
      deleteMetricsAfter: d.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?'),
      deleteGapAfter: d.prepare('DELETE FROM gap_curves WHERE run_id = ? AND step > ?'),
      deleteSamplesAfter: d.prepare('DELETE FROM samples WHERE run_id = ? AND step > ?'),
      deleteCheckpointsAfter: d.prepare('DELETE FROM checkpoints WHERE run_id = ? AND step > ?'),
      metricNamesOf: d.prepare(`SELECT DISTINCT n.name FROM metrics m JOIN metric_names n ON n.id = m.name_id WHERE m.run_id = ?
        ORDER BY n.name`),
      // Two plucked columns are about twice as fast as one array per row on a 1M-point series.
      seriesSteps: d.prepare('SELECT step FROM metrics WHERE run_id = ? AND name_id = ? ORDER BY step').pluck(),
      seriesValues: d.prepare('SELECT value FROM metrics WHERE run_id = ? AND name_id = ? ORDER BY step').pluck(),
      seriesCount: d.prepare('SELECT COUNT(*) AS n FROM metrics WHERE run_id = ? AND name_id = ?'),
      allMetrics: d.prepare(`SELECT m.step, n.name, m.value FROM metrics m JOIN metric_names n ON n.id = m.name_id
        WHERE m.run_id = ? ORDER BY m.step, n.name`).raw(true),
      insertGap: d.prepare(`INSERT OR REPLACE INTO gap_curves (run_id, step, t0, weights, n, t, mean_abs, l2, signed_mean,
        path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      gapOf: d.prepare('SELECT * FROM gap_curves WHERE run_id = ? ORDER BY step, t0, weights'),
      insertCheckpoint: d.prepare(`INSERT OR REPLACE INTO checkpoints (run_id, step, kind, path, bytes, metrics, created_at)
        VALUES (@runId, @step, @kind, @path, @bytes, @metrics, @createdAt)`),
      checkpointsOf: d.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step'),
      checkpointById: d.prepare('SELECT * FROM checkpoints WHERE id = ?'),
      checkpointAt: d.prepare('SELECT * FROM checkpoints WHERE run_id = ? AND step = ? ORDER BY kind LIMIT 1'),
      latestCheckpoint: d.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1'),
      deleteCheckpoint: d.prepare('DELETE FROM checkpoints WHERE id = ?'),
      insertSample: d.prepare(`INSERT INTO samples (run_id, checkpoint_id, step, sampler, sample_steps, spacing, eta, seed, n, ema,
        path, created_at) VALUES (@runId, @checkpointId, @step, @sampler, @sampleSteps, @spacing, @eta, @seed, @n, @ema, @path,
        @createdAt)`),
      samplesOf: d.prepare('SELECT * FROM samples WHERE run_id = ? ORDER BY step, id'),
      samplesOfCheckpoint: d.prepare('SELECT * FROM samples WHERE checkpoint_id = ? ORDER BY id'),
      sampleById: d.prepare('SELECT * FROM samples WHERE id = ?'),
      insertExport: d.prepare('INSERT INTO exports (run_id, kind, path, bytes, created_at) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  // ---- datasets ----------------------------------------------------------------------------------

  addDataset(ds: NewDataset): DatasetRecord {
    const info = this.stmts.insertDataset.run({
      ...ds,
      classCounts: ds.classCounts ? JSON.stringify(ds.classCounts) : null,
      classNames: ds.classNames ? JSON.stringify(ds.classNames) : null,
      skipped: JSON.stringify(ds.skipped),
      createdAt: now(),
    });
    return this.getDataset(Number(info.lastInsertRowid))!;
  }

  getDataset(id: number): DatasetRecord | undefined {
    const r = this.stmts.datasetById.get(id) as Row | undefined;
    return r ? toDataset(r) : undefined;
  }

  datasetByChecksum(checksum: string): DatasetRecord | undefined {
    const r = this.stmts.datasetByChecksum.get(checksum) as Row | undefined;
    return r ? toDataset(r) : undefined;
  }

  datasetByPath(path: string): DatasetRecord | undefined {
    const r = this.stmts.datasetByPath.get(path) as Row | undefined;
    return r ? toDataset(r) : undefined;
  }

  /** A dataset by id ('3' or '#3') or by name. */
  findDataset(ref: string): DatasetRecord | undefined {
    const m = /^#?(\d+)$/.exec(ref.trim());
    if (m) return this.getDataset(Number(m[1]));
    const r = this.stmts.datasetByName.get(ref) as Row | undefined;
    return r ? toDataset(r) : undefined;
  }

  listDatasets(): DatasetRecord[] {
    return (this.stmts.listDatasets.all() as Row[]).map(toDataset);
  }

  deleteDataset(id: number): void {
    this.stmts.deleteDataset.run(id);
  }

  // ---- runs --------------------------------------------------------------------------------------

  createRun(r: NewRun): RunRecord {
    const c = r.config;
    const id = this.db.transaction(() => {
      const info = this.stmts.insertRun.run({
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
        totalSteps: c.steps,
        appVersion: r.appVersion,
        notes: r.notes ?? '',
        retention: r.retention ? JSON.stringify(r.retention) : null,
        createdAt: now(),
      });
      const id = Number(info.lastInsertRowid);
      this.stmts.setRunDir.run(r.runDir ?? join(this.layout.runs, `${id}-${slug(r.name, 'run')}`), id);
      for (const t of r.tags ?? []) this.stmts.addTag.run(id, t);
      return id;
    }).immediate();
    return this.getRun(id)!;
  }

  getRun(id: number): RunRecord | undefined {
    const r = this.stmts.runById.get(id) as Row | undefined;
    return r ? this.toRun(r) : undefined;
  }

  /** A run by id ('12', '#12') or by name (the newest with that name). */
  findRun(ref: string): RunRecord | undefined {
    const m = /^#?(\d+)$/.exec(ref.trim());
    if (m) return this.getRun(Number(m[1]));
    const r = this.stmts.runsByName.get(ref) as Row | undefined;
    return r ? this.toRun(r) : undefined;
  }

  runByDir(dir: string): RunRecord | undefined {
    const r = this.stmts.runByDir.get(dir) as Row | undefined;
    return r ? this.toRun(r) : undefined;
  }

  requireRun(ref: string): RunRecord {
    const run = this.findRun(ref);
    if (!run) throw new Error(`no run '${ref}' in ${this.layout.db} (list them with 'sadpm runs')`);
    return run;
  }

  private filterSql(f: RunFilter): { sql: string; params: unknown[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.status?.length) {
      where.push(`r.status IN (${f.status.map(() => '?').join(',')})`);
      params.push(...f.status);
    }
    for (const tag of f.tags ?? []) {
      where.push('EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ?)');
      params.push(tag);
    }
    if (f.datasetId !== undefined) {
      where.push('r.dataset_id = ?');
      params.push(f.datasetId);
    }
    if (f.k !== undefined) {
      where.push('r.k = ?');
      params.push(f.k);
    }
    if (f.lambda !== undefined) {
      where.push('r.lambda = ?');
      params.push(f.lambda);
    }
    if (f.T !== undefined) {
      where.push('r.T = ?');
      params.push(f.T);
    }
    if (f.text?.trim()) {
      const like = `%${f.text.trim().replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      where.push(`(r.name LIKE ? ESCAPE '\\' OR r.notes LIKE ? ESCAPE '\\' OR r.dataset LIKE ? ESCAPE '\\' OR r.preset LIKE ? ESCAPE '\\'
        OR EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag LIKE ? ESCAPE '\\'))`);
      params.push(like, like, like, like, like);
    }
    return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
  }

  private cached(sql: string): Database.Statement {
    let s = this.filterCache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.filterCache.set(sql, s);
    }
    return s;
  }

  /** Runs matching a filter, newest first. */
  listRuns(f: RunFilter = {}): RunRecord[] {
    const { sql, params } = this.filterSql(f);
    const rows = this.cached(
      `SELECT r.*, (SELECT group_concat(tag, char(31)) FROM run_tags t WHERE t.run_id = r.id) AS tag_list,
       (SELECT MAX(step) FROM checkpoints c WHERE c.run_id = r.id) AS last_ck
       FROM runs r ${sql} ORDER BY r.id DESC LIMIT ? OFFSET ?`,
    ).all(...params, f.limit ?? 1000, f.offset ?? 0) as Row[];
    return rows.map((r) => this.toRun(r));
  }

  countRuns(f: RunFilter = {}): number {
    const { sql, params } = this.filterSql(f);
    return (this.cached(`SELECT COUNT(*) AS n FROM runs r ${sql}`).get(...params) as { n: number }).n;
  }

  setTags(id: number, tags: string[]): void {
    this.db.transaction(() => {
      this.stmts.clearTags.run(id);
      for (const t of tags) this.stmts.addTag.run(id, t);
    })();
  }

  setNotes(id: number, notes: string): void {
    this.stmts.setNotes.run(notes, id);
  }

  rename(id: number, name: string): void {
    this.stmts.setName.run(name, id);
  }

  updateConfig(id: number, config: Record<string, unknown> & { steps: number }): void {
    this.stmts.setConfig.run({ id, config: JSON.stringify(config), totalSteps: config.steps });
  }

  setRetention(id: number, policy: RetentionPolicy | null): void {
    this.stmts.setRetention.run(policy ? JSON.stringify(policy) : null, id);
  }

  retentionOf(id: number): RetentionPolicy | null {
    const r = this.stmts.runById.get(id) as Row | undefined;
    return r?.retention ? (JSON.parse(String(r.retention)) as RetentionPolicy) : null;
  }

  /** In `owner`'s queue: if that process dies first, recoverInterrupted marks the run interrupted. */
  markQueued(id: number, owner: Owner): void {
    this.stmts.markQueued.run({ id, pid: owner.pid, start: owner.start });
  }

  markRunning(id: number, owner: Owner): void {
    this.stmts.markRunning.run({ id, pid: owner.pid, start: owner.start, at: now() });
  }

  setBackend(id: number, backend: string, adapter: string): void {
    this.stmts.setBackend.run(backend, adapter, id);
  }

  setStatus(id: number, status: RunStatus, reason: string | null = null): void {
    this.stmts.setStatus.run({ id, status, reason: reason === null ? null : stripNativeLocations(reason), at: now() });
  }

  setProgress(id: number, step: number, loss: number | null): void {
    this.stmts.setProgress.run({ id, step, loss });
  }

  /**
   * Runs marked running whose owner process is gone (kill -9, power loss, crash): marks them
   * interrupted and returns their ids. Called whenever a process opens the store to train or serve.
   */
  recoverInterrupted(): number[] {
    const found: { id: number; queued: boolean }[] = [];
    for (const r of this.stmts.ownedRuns.all() as Row[]) {
      const owner = { pid: Number(r.owner_pid ?? 0), start: String(r.owner_start ?? '') };
      if (owner.pid > 0 && isOwnerAlive(owner)) continue;
      found.push({ id: Number(r.id), queued: r.status === 'queued' });
    }
    for (const { id, queued } of found) {
      const ck = this.latestCheckpoint(id);
      const what = queued
        ? 'the process that queued this run exited before it started (closed, killed or crashed); resume it to train; '
        : 'the process that trained this run stopped without finishing (killed or crashed); ';
      this.setStatus(id, 'interrupted', what + (ck ? `last good checkpoint: step ${ck.step}` : 'no checkpoint was written yet'));
    }
    return found.map((f) => f.id);
  }

  /**
   * Temp files left by a process that was killed mid-import (in <data>/datasets) or mid-export (in
   * <data>/exports): its cleanup never ran. Only files whose writing processes are all gone are removed.
   */
  sweepTempFiles(): { path: string; bytes: number }[] {
    const removed: { path: string; bytes: number }[] = [];
    const places = [[this.layout.datasets, importTempWriters], [this.layout.exports, exportTempWriters]] as const;
    for (const [dir, writersOf] of places) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        const w = writersOf(name);
        if (!w || isTagAlive(w.owner, w.hash) || (w.engine !== undefined && isTagAlive(w.engine))) continue;
        const path = join(dir, name);
        try {
          const bytes = statSync(path).size;
          rmSync(path, { force: true });
          removed.push({ path, bytes });
        } catch {
          // Gone already (another process swept it): nothing to report.
        }
      }
    }
    return removed;
  }

  /**
   * Before a resume from `step`: forget what was recorded after it (it will be recomputed), so the
   * metric history stays one continuous series without duplicated steps.
   */
  rewindTo(id: number, step: number): void {
    this.db.transaction(() => {
      this.stmts.deleteMetricsAfter.run(id, step);
      this.stmts.deleteGapAfter.run(id, step);
      this.stmts.deleteSamplesAfter.run(id, step);
      this.stmts.deleteCheckpointsAfter.run(id, step);
      this.stmts.resetStep.run(step, id);
    }).immediate();
  }

  deleteRun(id: number, opts: { deleteFiles: boolean }): void {
    const run = this.getRun(id);
    if (!run) return;
    this.stmts.deleteRun.run(id);
    if (opts.deleteFiles && run.runDir.startsWith(this.layout.runs)) rmSync(run.runDir, { recursive: true, force: true });
  }

  // ---- metrics -----------------------------------------------------------------------------------

  private metricId(name: string): number {
    let id = this.metricIds.get(name);
    if (id === undefined) {
      const r = this.stmts.metricName.get(name) as { id: number } | undefined;
      id = r ? r.id : Number(this.stmts.insertMetricName.run(name).lastInsertRowid);
      this.metricIds.set(name, id);
    }
    return id;
  }

  /**
   * One write transaction that takes the lock up front (BEGIN IMMEDIATE: a locked database fails before
   * any work is done). If it rolls back, metric name ids it cached may name rows that no longer exist,
   * so the cache is dropped.
   */
  writeTransaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      this.metricIds.clear();
      throw err;
    }
  }

  /** Writes points in one transaction (the caller batches). */
  appendMetrics(runId: number, points: MetricPoint[]): void {
    if (points.length === 0) return;
    this.writeTransaction(() => this.insertMetrics(runId, points));
  }

  /** Inside a caller's transaction. */
  insertMetrics(runId: number, points: MetricPoint[]): void {
    for (const p of points) this.stmts.insertMetric.run(runId, this.metricId(p.name), p.step, p.value);
  }

  metricNames(runId: number): string[] {
    return (this.stmts.metricNamesOf.all(runId) as { name: string }[]).map((r) => r.name);
  }

  /** One series, downsampled with LTTB to at most maxPoints (spikes survive). */
  series(runId: number, name: string, maxPoints = 2000): Series {
    const id = this.metricIds.get(name) ?? (this.stmts.metricName.get(name) as { id: number } | undefined)?.id;
    if (id === undefined) return { name, steps: [], values: [], total: 0 };
    // One read transaction: both columns come from the same snapshot while a writer appends.
    const [steps, values] = this.db.transaction((): [number[], number[]] => [
      this.stmts.seriesSteps.all(runId, id) as number[],
      this.stmts.seriesValues.all(runId, id) as number[],
    ])();
    const n = steps.length;
    if (n <= maxPoints) return { name, steps, values, total: n };
    const idx = lttbIndices(steps, values, maxPoints);
    return { name, steps: idx.map((i) => steps[i]!), values: idx.map((i) => values[i]!), total: n };
  }

  /** The same metric of several runs for an overlay, each downsampled to maxPoints over the common step range. */
  seriesOverlay(runIds: number[], name: string, maxPoints = 2000): { runId: number; series: Series }[] {
    return runIds.map((runId) => ({ runId, series: this.series(runId, name, maxPoints) }));
  }

  /** Every metric point of a run: [step, name, value], by step. */
  allMetrics(runId: number): [number, string, number][] {
    return this.stmts.allMetrics.all(runId) as [number, string, number][];
  }

  // ---- gap curves --------------------------------------------------------------------------------

  addGap(g: Omit<GapRecord, 'weights' | 'n'> & { weights?: GapRecord['weights']; n?: number | null; path?: string }): void {
    this.stmts.insertGap.run(g.runId, g.step, g.t0, g.weights ?? 'raw', g.n ?? null, JSON.stringify(g.t),
      JSON.stringify(g.meanAbs), JSON.stringify(g.l2), JSON.stringify(g.signedMean), g.path ?? null);
  }

  gapCurves(runId: number): GapRecord[] {
    return (this.stmts.gapOf.all(runId) as Row[]).map((r) => ({
      runId: Number(r.run_id),
      step: Number(r.step),
      t0: Number(r.t0),
      weights: r.weights === 'ema' ? 'ema' : 'raw',
      n: r.n === null ? null : Number(r.n),
      t: JSON.parse(String(r.t)),
      meanAbs: JSON.parse(String(r.mean_abs)),
      l2: JSON.parse(String(r.l2)),
      signedMean: JSON.parse(String(r.signed_mean)),
    }));
  }

  // ---- checkpoints -------------------------------------------------------------------------------

  addCheckpoint(c: Omit<CheckpointRecord, 'id' | 'createdAt'>): CheckpointRecord {
    this.stmts.insertCheckpoint.run({ ...c, metrics: JSON.stringify(c.metrics), createdAt: now() });
    return toCheckpoint(this.stmts.checkpointAt.get(c.runId, c.step) as Row);
  }

  checkpoints(runId: number): CheckpointRecord[] {
    return (this.stmts.checkpointsOf.all(runId) as Row[]).map(toCheckpoint);
  }

  getCheckpoint(id: number): CheckpointRecord | undefined {
    const r = this.stmts.checkpointById.get(id) as Row | undefined;
    return r ? toCheckpoint(r) : undefined;
  }

  checkpointAt(runId: number, step: number): CheckpointRecord | undefined {
    const r = this.stmts.checkpointAt.get(runId, step) as Row | undefined;
    return r ? toCheckpoint(r) : undefined;
  }

  latestCheckpoint(runId: number): CheckpointRecord | undefined {
    const r = this.stmts.latestCheckpoint.get(runId) as Row | undefined;
    return r ? toCheckpoint(r) : undefined;
  }

  /** What a policy would delete; nothing is changed. */
  planPrune(runId: number, policy: RetentionPolicy): RetentionPlan {
    return planRetention(this.checkpoints(runId), policy);
  }

  /** Deletes the plan's checkpoints: rows first (in one transaction), then files. */
  prune(runId: number, policy: RetentionPolicy): RetentionPlan {
    const plan = this.planPrune(runId, policy);
    this.db.transaction(() => {
      for (const c of plan.remove) this.stmts.deleteCheckpoint.run(c.id);
    })();
    // A crash between the two leaves orphan files, never a row that points at nothing.
    for (const c of plan.remove) rmSync(c.path, { force: true });
    return plan;
  }

  // ---- samples -----------------------------------------------------------------------------------

  addSample(s: Omit<SampleRecord, 'id' | 'createdAt'>): SampleRecord {
    const info = this.stmts.insertSample.run({ ...s, ema: s.ema ? 1 : 0, createdAt: now() });
    return toSample(this.stmts.sampleById.get(Number(info.lastInsertRowid)) as Row);
  }

  samples(runId: number): SampleRecord[] {
    return (this.stmts.samplesOf.all(runId) as Row[]).map(toSample);
  }

  samplesOfCheckpoint(checkpointId: number): SampleRecord[] {
    return (this.stmts.samplesOfCheckpoint.all(checkpointId) as Row[]).map(toSample);
  }

  getSample(id: number): SampleRecord | undefined {
    const r = this.stmts.sampleById.get(id) as Row | undefined;
    return r ? toSample(r) : undefined;
  }

  // ---- exports and disk use ----------------------------------------------------------------------

  recordExport(runId: number | null, kind: string, path: string, bytes: number): void {
    this.stmts.insertExport.run(runId, kind, path, bytes, now());
  }

  /** Bytes on disk of a run's folder, by kind of file. */
  diskUse(runId: number): { total: number; checkpoints: number; samples: number; other: number } {
    const run = this.getRun(runId);
    const out = { total: 0, checkpoints: 0, samples: 0, other: 0 };
    if (!run || !existsSync(run.runDir)) return out;
    const walk = (dir: string, kind: 'checkpoints' | 'samples' | 'other') => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p, e.name === 'checkpoints' ? 'checkpoints' : e.name === 'samples' ? 'samples' : kind);
        else if (e.isFile()) {
          const b = statSync(p).size;
          out[kind] += b;
          out.total += b;
        }
      }
    };
    walk(run.runDir, 'other');
    return out;
  }

  private toRun(r: Row): RunRecord {
    const tagList = r.tag_list !== undefined ? (r.tag_list ? String(r.tag_list).split('\u001f').sort() : [])
      : (this.stmts.tagsOf.all(r.id) as { tag: string }[]).map((t) => t.tag);
    const lastCk = r.last_ck !== undefined ? r.last_ck : (this.stmts.latestCheckpoint.get(r.id) as Row | undefined)?.step;
    return {
      id: Number(r.id),
      name: String(r.name),
      status: r.status as RunStatus,
      config: JSON.parse(String(r.config)),
      datasetId: r.dataset_id === null ? null : Number(r.dataset_id),
      dataset: String(r.dataset),
      preset: String(r.preset),
      k: Number(r.k),
      lambda: Number(r.lambda),
      T: Number(r.T),
      seed: Number(r.seed),
      step: Number(r.step),
      totalSteps: Number(r.total_steps),
      runDir: String(r.run_dir),
      backend: (r.backend as string | null) ?? null,
      adapter: (r.adapter as string | null) ?? null,
      appVersion: String(r.app_version),
      notes: String(r.notes),
      tags: tagList,
      failureReason: (r.failure_reason as string | null) ?? null,
      createdAt: String(r.created_at),
      startedAt: (r.started_at as string | null) ?? null,
      endedAt: (r.ended_at as string | null) ?? null,
      lastLoss: r.last_loss === null || r.last_loss === undefined ? null : Number(r.last_loss),
      lastCheckpointStep: lastCk === null || lastCk === undefined ? null : Number(lastCk),
    };
  }
}

function toDataset(r: Row): DatasetRecord {
  return {
    id: Number(r.id),
    name: String(r.name),
    source: String(r.source),
    format: String(r.format),
    count: Number(r.count),
    height: Number(r.height),
    width: Number(r.width),
    channels: Number(r.channels),
    checksum: String(r.checksum),
    path: String(r.path),
    previewPath: (r.preview_path as string | null) ?? null,
    bytes: Number(r.bytes),
    classCounts: r.class_counts ? JSON.parse(String(r.class_counts)) : null,
    classNames: r.class_names ? JSON.parse(String(r.class_names)) : null,
    good: Number(r.good),
    skipped: JSON.parse(String(r.skipped)),
    createdAt: String(r.created_at),
  };
}

function toCheckpoint(r: Row): CheckpointRecord {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    step: Number(r.step),
    kind: r.kind as CheckpointRecord['kind'],
    path: String(r.path),
    bytes: Number(r.bytes),
    metrics: JSON.parse(String(r.metrics)),
    createdAt: String(r.created_at),
  };
}

function toSample(r: Row): SampleRecord {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    checkpointId: r.checkpoint_id === null ? null : Number(r.checkpoint_id),
    step: Number(r.step),
    sampler: String(r.sampler),
    sampleSteps: Number(r.sample_steps),
    spacing: (r.spacing as string | null) ?? null,
    eta: r.eta === null ? null : Number(r.eta),
    seed: r.seed === null ? null : Number(r.seed),
    n: Number(r.n),
    ema: Number(r.ema) === 1,
    path: String(r.path),
    createdAt: String(r.created_at),
  };
}
