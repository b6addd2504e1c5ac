/**
 * RunStore: the one owner of the SQLite connection, and the store's parts over it, each for one concern
 * (`store.runs.get(id)`, `store.metrics.series(...)`, `store.checkpoints.latest(id)`, ...). Metadata lives
 * in the database; checkpoints, packed datasets, images and cached statistics are files under the data
 * folder, referenced by path.
 */
import type Database from 'better-sqlite3';
import { StoreDb, type StoreOptions } from './db';
import type { DataLayout } from './dataDir';
import { Runs } from './runs';
import { Metrics } from './metrics';
import { Checkpoints } from './checkpoints';
import { Exports, GapCurves, Samples } from './artifacts';
import { Datasets } from './datasets';
import { EvalResults } from './evaluations';
import { ReferenceStats } from './referenceStats';
import { GammaEstimates } from './gammas';
import { Sweeps } from './sweeps';
import { RemoteRuns } from './remoteRuns';

export type { StoreOptions } from './db';
export type { NewRun } from './runs';
export type { MetricPoint } from './metrics';
export type { NewDataset } from './datasets';
export type { NewCheckpoint } from './checkpoints';
export type { NewGap, NewSample } from './artifacts';
export type { CurveQuery } from './evaluations';
export type { AttemptEnd, RemoteRunRecord } from './remoteRuns';
export type { NewCell, NewSweep } from './sweeps';

export class RunStore {
  private readonly sql: StoreDb;
  /** The raw connection, for checks and tests; the parts below are the API. */
  readonly db: Database.Database;
  readonly layout: DataLayout;
  readonly runs: Runs;
  readonly metrics: Metrics;
  readonly checkpoints: Checkpoints;
  readonly samples: Samples;
  readonly gaps: GapCurves;
  readonly exports: Exports;
  readonly datasets: Datasets;
  readonly evals: EvalResults;
  readonly refStats: ReferenceStats;
  readonly gammas: GammaEstimates;
  /** Issue 16: sweeps and runs on a Slurm cluster. */
  readonly sweeps: Sweeps;
  readonly remote: RemoteRuns;

  private constructor(root: string, opts: StoreOptions) {
    this.sql = new StoreDb(root, opts);
    this.db = this.sql.conn;
    this.layout = this.sql.layout;
    this.runs = new Runs(this.sql);
    this.metrics = new Metrics(this.sql);
    this.checkpoints = new Checkpoints(this.sql);
    this.samples = new Samples(this.sql);
    this.gaps = new GapCurves(this.sql);
    this.exports = new Exports(this.sql);
    this.datasets = new Datasets(this.sql);
    this.evals = new EvalResults(this.sql);
    this.refStats = new ReferenceStats(this.sql);
    this.gammas = new GammaEstimates(this.sql);
    this.sweeps = new Sweeps(this.sql);
    this.remote = new RemoteRuns(this.sql);
  }

  static open(root: string, opts: StoreOptions = {}): RunStore {
    return new RunStore(root, opts);
  }

  close(): void {
    this.sql.close();
  }

  schemaVersion(): number {
    return this.sql.schemaVersion();
  }

  /**
   * Writes of several parts in one transaction that takes the lock up front (BEGIN IMMEDIATE): all of them
   * are stored or none. A rolled-back transaction drops what the parts cached from it.
   */
  writeTransaction<T>(fn: () => T): T {
    return this.sql.write(fn);
  }
}
