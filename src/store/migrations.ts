/**
 * Schema history. Migration i (1-based) takes the database from user_version i-1 to i. Each runs in
 * one transaction with its version bump, so a crash mid-migration leaves the previous version intact.
 * Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the first schema.
  `
  CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    source        TEXT NOT NULL,
    format        TEXT NOT NULL,
    count         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    width         INTEGER NOT NULL,
    channels      INTEGER NOT NULL,
    checksum      TEXT NOT NULL UNIQUE,
    path          TEXT NOT NULL,
    preview_path  TEXT,
    bytes         INTEGER NOT NULL,
    class_counts  TEXT,
    class_names   TEXT,
    good          INTEGER NOT NULL,
    skipped       TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL
  );
  CREATE UNIQUE INDEX datasets_name ON datasets(name);

  CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued','running','paused','completed','failed','stopped','interrupted')),
    config          TEXT NOT NULL,
    dataset_id      INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    dataset         TEXT NOT NULL,
    preset          TEXT NOT NULL,
    k               INTEGER NOT NULL,
    lambda          REAL NOT NULL,
    T               INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    step            INTEGER NOT NULL DEFAULT 0,
    total_steps     INTEGER NOT NULL,
    run_dir         TEXT NOT NULL,
    backend         TEXT,
    adapter         TEXT,
    app_version     TEXT NOT NULL,
    notes           TEXT NOT NULL DEFAULT '',
    failure_reason  TEXT,
    retention       TEXT,
    owner_pid       INTEGER,
    owner_start     TEXT,
    last_loss       REAL,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    ended_at        TEXT
  );
  CREATE INDEX runs_status ON runs(status);
  CREATE INDEX runs_dataset ON runs(dataset_id);
  CREATE INDEX runs_created ON runs(created_at);

  CREATE TABLE run_tags (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
  ) WITHOUT ROWID;
  CREATE INDEX run_tags_tag ON run_tags(tag);

  CREATE TABLE metric_names (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
  );

  CREATE TABLE metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name_id INTEGER NOT NULL REFERENCES metric_names(id),
    step    INTEGER NOT NULL,
    value   REAL NOT NULL,
    PRIMARY KEY (run_id, name_id, step)
  ) WITHOUT ROWID;

  CREATE TABLE gap_curves (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    t0          INTEGER NOT NULL,
    t           TEXT NOT NULL,
    mean_abs    TEXT NOT NULL,
    l2          TEXT NOT NULL,
    signed_mean TEXT NOT NULL,
    path        TEXT,
    PRIMARY KEY (run_id, step)
  );

  CREATE TABLE checkpoints (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('full','raw','ema')),
    path        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    metrics     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    UNIQUE (run_id, step, kind)
  );

  CREATE TABLE samples (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    checkpoint_id INTEGER REFERENCES checkpoints(id) ON DELETE SET NULL,
    step          INTEGER NOT NULL,
    sampler       TEXT NOT NULL,
    sample_steps  INTEGER NOT NULL,
    spacing       TEXT,
    eta           REAL,
    seed          INTEGER,
    n             INTEGER NOT NULL,
    ema           INTEGER NOT NULL,
    path          TEXT NOT NULL,
    created_at    TEXT NOT NULL
  );
  CREATE INDEX samples_run ON samples(run_id, step);

  CREATE TABLE exports (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    kind        TEXT NOT NULL,
    path        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    created_at  TEXT NOT NULL
  );
  `,
  // 2: a gap curve is one per (step, t0, weights): measuring a checkpoint again with the EMA weights or another t0
  // (sadpm gap, the app) adds a curve instead of replacing the one training measured. n = images it averaged.
  `
  CREATE TABLE gap_curves_v2 (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    t0          INTEGER NOT NULL,
    weights     TEXT NOT NULL DEFAULT 'raw' CHECK (weights IN ('raw','ema')),
    n           INTEGER,
    t           TEXT NOT NULL,
    mean_abs    TEXT NOT NULL,
    l2          TEXT NOT NULL,
    signed_mean TEXT NOT NULL,
    path        TEXT,
    PRIMARY KEY (run_id, step, t0, weights)
  );
  INSERT INTO gap_curves_v2 (run_id, step, t0, weights, n, t, mean_abs, l2, signed_mean, path)
    SELECT run_id, step, t0, 'raw', NULL, t, mean_abs, l2, signed_mean, path FROM gap_curves;
  DROP TABLE gap_curves;
  ALTER TABLE gap_curves_v2 RENAME TO gap_curves;
  `,
  // 3: evaluation results and their cached reference statistics (issue 12); Analytic-DPM's Γ estimates and
  // covariance runs, children of a trained run (issue 13). A child run goes with its parent: its head reads the
  // parent's frozen network, so without the parent it cannot be used.
  `
  ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'train' CHECK (kind IN ('train','cov'));
  ALTER TABLE runs ADD COLUMN parent_id INTEGER REFERENCES runs(id) ON DELETE CASCADE;
  ALTER TABLE runs ADD COLUMN cov TEXT;
  CREATE INDEX runs_parent ON runs(parent_id);

  CREATE TABLE eval_results (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step            INTEGER NOT NULL,
    weights         TEXT NOT NULL CHECK (weights IN ('raw','ema')),
    sampler         TEXT NOT NULL,
    sample_steps    INTEGER NOT NULL,
    spacing         TEXT NOT NULL,
    eta             REAL NOT NULL,
    n               INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    feature_space   TEXT NOT NULL CHECK (feature_space IN ('inception','pixel')),
    metric          TEXT NOT NULL,
    value           REAL NOT NULL,
    std             REAL,
    features_sha256 TEXT,
    ref_key         TEXT NOT NULL,
    seconds         REAL NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (run_id, step, weights, sampler, sample_steps, spacing, eta, n, seed, feature_space, metric)
  );
  CREATE INDEX eval_results_latest ON eval_results(run_id, metric, feature_space, created_at);

  CREATE TABLE reference_stats (
    key         TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    created_at  TEXT NOT NULL
  );

  CREATE TABLE gamma_estimates (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    checkpoint_step INTEGER NOT NULL,
    estimate        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  );
  `,
  // 4 (issue 16): sweeps (a grid of runs over K x lambda x seeds) and runs sent to a Slurm cluster. A remote run's
  // engine messages are ingested from its run folder: messages_offset is how far (in bytes) they are recorded,
  // updated in the same transaction as what they recorded, so a restart neither loses nor repeats any.
  `
  CREATE TABLE sweeps (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    executor      TEXT NOT NULL CHECK (executor IN ('local','slurm')),
    base_config   TEXT NOT NULL,
    axes          TEXT NOT NULL,
    max_parallel  INTEGER,
    slurm         TEXT,
    job_id        INTEGER,
    created_at    TEXT NOT NULL
  );

  CREATE TABLE sweep_cells (
    sweep_id  INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    idx       INTEGER NOT NULL,
    run_id    INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    k         INTEGER NOT NULL,
    lambda    REAL NOT NULL,
    seed      INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, idx)
  );
  CREATE INDEX sweep_cells_run ON sweep_cells(run_id);

  CREATE TABLE remote_runs (
    run_id          INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    executor        TEXT NOT NULL CHECK (executor IN ('slurm')),
    target          TEXT NOT NULL,
    job_id          INTEGER NOT NULL,
    task_id         INTEGER NOT NULL,
    messages_offset INTEGER NOT NULL DEFAULT 0,
    attempt_end     TEXT,
    slurm_state     TEXT,
    slurm_reason    TEXT,
    stop_intent     TEXT,
    final           INTEGER NOT NULL DEFAULT 0,
    owner_pid       INTEGER,
    owner_start     TEXT,
    updated_at      TEXT NOT NULL
  );
  CREATE INDEX remote_runs_live ON remote_runs(final);
  `,
  // 5 (issue 13 in the evaluation): a result records its variance source (variance: what tells two apart, e.g.
  // 'gamma n=all seed=0' or 'npr run #5 step 2'; variance_ref: the Γ key or the head checkpoint), part of its
  // identity, so two heads never overwrite each other. SQLite cannot change a UNIQUE constraint in place: the
  // table is rebuilt; results stored before were all ddpm/ddim ('none').
  `
  CREATE TABLE eval_results_v5 (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step            INTEGER NOT NULL,
    weights         TEXT NOT NULL CHECK (weights IN ('raw','ema')),
    sampler         TEXT NOT NULL,
    variance        TEXT NOT NULL DEFAULT 'none',
    variance_ref    TEXT,
    sample_steps    INTEGER NOT NULL,
    spacing         TEXT NOT NULL,
    eta             REAL NOT NULL,
    n               INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    feature_space   TEXT NOT NULL CHECK (feature_space IN ('inception','pixel')),
    metric          TEXT NOT NULL,
    value           REAL NOT NULL,
    std             REAL,
    features_sha256 TEXT,
    ref_key         TEXT NOT NULL,
    seconds         REAL NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (run_id, step, weights, sampler, variance, sample_steps, spacing, eta, n, seed, feature_space, metric)
  );
  INSERT INTO eval_results_v5 (id, run_id, step, weights, sampler, sample_steps, spacing, eta, n, seed,
    feature_space, metric, value, std, features_sha256, ref_key, seconds, created_at)
    SELECT id, run_id, step, weights, sampler, sample_steps, spacing, eta, n, seed,
    feature_space, metric, value, std, features_sha256, ref_key, seconds, created_at FROM eval_results;
  DROP TABLE eval_results;
  ALTER TABLE eval_results_v5 RENAME TO eval_results;
  CREATE INDEX eval_results_latest ON eval_results(run_id, metric, feature_space, created_at);
  `,
  // 6 (issue 15): the experiment table's result columns kept on the run (a listing of 10,000 runs reads them without
  // touching the metrics), and a multi-resolution summary of every metric series (min/max/mean per bucket of steps
  // at a few widths, as TensorBoard and Aim keep), so a chart of a long run reads ~2,000 buckets instead of 1M rows.
  // Series that exist before this migration are summarised on their first read (metric_series.summarized = 0).
  `
  ALTER TABLE runs ADD COLUMN last_simple REAL;
  ALTER TABLE runs ADD COLUMN last_sa REAL;
  ALTER TABLE runs ADD COLUMN last_ips REAL;
  ALTER TABLE runs ADD COLUMN final_gap REAL;
  ALTER TABLE runs ADD COLUMN cfg_tau TEXT;
  ALTER TABLE runs ADD COLUMN cfg_schedule TEXT;
  ALTER TABLE runs ADD COLUMN cfg_batch INTEGER;
  ALTER TABLE runs ADD COLUMN cfg_lr REAL;
  UPDATE runs SET cfg_tau = json_extract(config, '$.tau'), cfg_schedule = json_extract(config, '$.schedule'),
    cfg_batch = json_extract(config, '$.batch'), cfg_lr = json_extract(config, '$.lr');
  UPDATE runs SET
    last_simple = (SELECT m.value FROM metrics m JOIN metric_names n ON n.id = m.name_id
      WHERE m.run_id = runs.id AND n.name = 'simple' ORDER BY m.step DESC LIMIT 1),
    last_sa = (SELECT m.value FROM metrics m JOIN metric_names n ON n.id = m.name_id
      WHERE m.run_id = runs.id AND n.name = 'sa' ORDER BY m.step DESC LIMIT 1),
    last_ips = (SELECT m.value FROM metrics m JOIN metric_names n ON n.id = m.name_id
      WHERE m.run_id = runs.id AND n.name = 'imagesPerSec' ORDER BY m.step DESC LIMIT 1),
    final_gap = (SELECT json_extract(g.mean_abs, '$[#-1]') FROM gap_curves g WHERE g.run_id = runs.id
      ORDER BY g.step DESC, g.weights = 'raw' DESC, g.t0 DESC LIMIT 1);

  CREATE TABLE metric_series (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name_id     INTEGER NOT NULL REFERENCES metric_names(id),
    points      INTEGER NOT NULL,
    summarized  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, name_id)
  ) WITHOUT ROWID;
  INSERT INTO metric_series (run_id, name_id, points, summarized)
    SELECT run_id, name_id, COUNT(*), 0 FROM metrics GROUP BY run_id, name_id;

  CREATE TABLE metric_buckets (
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name_id     INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    finite      INTEGER NOT NULL,
    sum         REAL NOT NULL,
    min         REAL,
    min_step    INTEGER,
    max         REAL,
    max_step    INTEGER,
    first_step  INTEGER NOT NULL,
    first       REAL,
    last_step   INTEGER NOT NULL,
    last        REAL,
    PRIMARY KEY (run_id, name_id, level, bucket)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
