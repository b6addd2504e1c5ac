import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { readFileSync, statSync } from 'node:fs';
import { RunStore } from '../../../src/store/runStore';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../src/store/migrations';
import { dataLayout } from '../../../src/store/dataDir';
import { tmpDir } from './helpers';

describe('store migrations', () => {
  it('a fresh database gets every migration and user_version = SCHEMA_VERSION', () => {
    const root = tmpDir();
    const store = RunStore.open(root);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(SCHEMA_VERSION).toBeGreaterThan(0);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    const tables = (
      store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]
    ).map((t) => t.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'runs',
        'run_tags',
        'metrics',
        'metric_names',
        'checkpoints',
        'samples',
        'gap_curves',
        'datasets',
        'exports',
      ]),
    );
    store.close();
    // Opening again runs nothing and keeps the version.
    const again = RunStore.open(root);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('turns on WAL, foreign keys and a busy timeout', () => {
    const store = RunStore.open(tmpDir());
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
    // Foreign keys are enforced: a metric of a run that does not exist is refused.
    expect(() => store.metrics.append(999, [{ step: 1, name: 'loss', value: 1 }])).toThrow(/FOREIGN KEY/);
    store.close();
  });

  it('refuses a database written by a newer release and leaves it unchanged', () => {
    const root = tmpDir();
    const path = dataLayout(root).db;
    RunStore.open(root).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.pragma('journal_mode = DELETE');
    raw.close();
    const before = readFileSync(path);
    const mtime = statSync(path).mtimeMs;
    expect(() => RunStore.open(root)).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 1}.*up to ${SCHEMA_VERSION}.*newer release.*not changed`),
    );
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(statSync(path).mtimeMs).toBe(mtime);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    check.close();
  });

  it('a failing migration leaves the previous version (each migration is one transaction)', () => {
    const root = tmpDir();
    const path = dataLayout(root).db;
    // A database at version 0 that already has a 'runs' table: migration 1 fails half-way.
    const raw = new Database(path);
    raw.exec('CREATE TABLE datasets_marker (x); CREATE TABLE runs (x)');
    raw.close();
    expect(() => RunStore.open(root)).toThrow(/runs/);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(0);
    const tables = (
      check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((t) => t.name);
    expect(tables).not.toContain('datasets');
    check.close();
  });

  it('migration 3 keeps the runs of a version-2 database as training runs and adds the evaluation tables', () => {
    const root = tmpDir();
    const raw = new Database(dataLayout(root).db);
    for (const sql of MIGRATIONS.slice(0, 2)) raw.exec(sql);
    raw.pragma('user_version = 2');
    raw
      .prepare(
        `INSERT INTO runs (name, status, config, dataset, preset, k, lambda, T, seed, total_steps, run_dir,
      app_version, created_at) VALUES ('old', 'completed', '{"steps":5}', 'builtin:shapes', 'tiny', 2, 1, 100, 0, 5,
      '/r', '0.0.1', '2025-01-01')`,
      )
      .run();
    raw.close();
    const store = RunStore.open(root);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(store.runs.get(1)).toMatchObject({ name: 'old', kind: 'train', parentId: null, cov: null });
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['eval_results', 'reference_stats', 'gamma_estimates']));
    expect(() => store.db.prepare("UPDATE runs SET kind = 'other' WHERE id = 1").run()).toThrow(/CHECK constraint/);
    store.close();
  });
  it('migration 5 keeps the evaluation results of a version-4 database as ddpm/ddim ones (variance none)', () => {
    const root = tmpDir();
    const raw = new Database(dataLayout(root).db);
    for (const sql of MIGRATIONS.slice(0, 4)) raw.exec(sql);
    raw.pragma('user_version = 4');
    raw
      .prepare(
        `INSERT INTO runs (name, status, config, dataset, preset, k, lambda, T, seed, total_steps, run_dir,
      app_version, created_at) VALUES ('old', 'completed', '{"steps":5}', 'builtin:shapes', 'tiny', 2, 1, 100, 0, 5,
      '/r', '0.0.1', '2025-01-01')`,
      )
      .run();
    raw
      .prepare(
        `INSERT INTO eval_results (run_id, step, weights, sampler, sample_steps, spacing, eta, n, seed,
      feature_space, metric, value, std, features_sha256, ref_key, seconds, created_at) VALUES (1, 5, 'ema', 'ddim',
      10, 'uniform', 0, 16, 0, 'pixel', 'fid', 12.5, NULL, NULL, 'k', 1, '2025-01-02')`,
      )
      .run();
    raw.close();
    const store = RunStore.open(root);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(store.evals.list(1)).toEqual([
      expect.objectContaining({ id: 1, sampler: 'ddim', variance: 'none', varianceRef: null, value: 12.5 }),
    ]);
    // The variance source is part of a result's identity: another head of one sampler is another row.
    const row = {
      runId: 1,
      step: 5,
      weights: 'ema' as const,
      sampler: 'npr-ddim' as const,
      sampleSteps: 10,
      spacing: 'uniform' as const,
      eta: 0,
      n: 16,
      seed: 0,
      featureSpace: 'pixel' as const,
      metric: 'fid',
      std: null,
      featuresSha256: null,
      refKey: 'k',
      seconds: 1,
    };
    store.evals.upsert({ ...row, variance: 'npr run #2 step 4', varianceRef: '/a', value: 3 });
    store.evals.upsert({ ...row, variance: 'npr run #3 step 4', varianceRef: '/b', value: 4 });
    store.evals.upsert({ ...row, variance: 'npr run #3 step 4', varianceRef: '/b', value: 5 });
    expect(
      store.evals
        .list(1)
        .filter((e) => e.sampler === 'npr-ddim')
        .map((e) => [e.variance, e.value]),
    ).toEqual([
      ['npr run #2 step 4', 3],
      ['npr run #3 step 4', 5],
    ]);
    store.close();
  });
});
