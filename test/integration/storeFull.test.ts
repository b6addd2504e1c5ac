/**
 * `sadpm train` when its run database fills up mid-run (a real SQLITE_FULL: SADPM_DB_MAX_BYTES caps the
 * database through PRAGMA max_page_count): the run stops after a checkpoint, is marked failed with a
 * reason naming the database, the data folder and the free space, the CLI exits 1 with that message and
 * no stack trace, earlier data is intact, and once there is room `sadpm resume` continues the run —
 * while another connection holds the write lock for a while (a real SQLITE_BUSY): one warning, and
 * every step recorded once the lock is released.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../../src/store/runStore';
import { progressPoints } from '../../src/store/recorder';
import { readCheckpoint } from '../../src/engine/train/checkpoint';

const BIN = resolve(__dirname, '../../bin/sadpm.mjs');
const home = mkdtempSync(join(tmpdir(), 'sadpm-full-'));
const env = { ...process.env, EGL_PLATFORM: 'surfaceless', SADPM_HOME: home };
const args = [
  '--preset',
  'tiny',
  '--T',
  '100',
  '--batch',
  '2',
  '--checkpoint-every',
  '3',
  '--log-every',
  '1',
  '--sample-n',
  '2',
  '--sample-steps',
  '2',
  '--gap-t0',
  '4',
  '--gap-batch',
  '2',
];

function sadpm(argv: string[], extra: Record<string, string> = {}) {
  const opts = { encoding: 'utf8' as const, env: { ...env, ...extra }, timeout: 240_000 };
  const r = spawnSync(process.execPath, [BIN, ...argv], opts);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * An earlier run's metrics fill the database until the last leaf page of the metrics table has room
 * for a few steps only; capped at its current page count, the database is then full a few steps into
 * the next run.
 */
function fillLeavingRoom(bytesFree: number): { bytes: number; fillerRows: number } {
  const store = RunStore.open(home);
  try {
    const run = store.runs.create({
      name: 'filler',
      appVersion: 'test',
      config: { dataset: 'builtin:shapes', preset: 'tiny', k: 2, lambda: 1, T: 100, seed: 0, steps: 1 },
    });
    store.runs.setStatus(run.id, 'completed');
    const lastLeafUnused = store.db
      .prepare("SELECT unused FROM dbstat WHERE name = 'metrics' AND pagetype IN ('leaf') ORDER BY path DESC LIMIT 1")
      .pluck();
    const msg = {
      type: 'progress' as const,
      totalSteps: 1,
      loss: 1,
      simple: 1,
      sa: 0,
      gradNorm: 1,
      lr: 1,
      imagesPerSec: 1,
      msPerStep: 1,
      etaSec: 0,
      memory: { numTensors: 1, numBytes: 1 },
    };
    let step = 0;
    // Leaves split when full, so the last one is at least half empty right after a split: go past one.
    while ((lastLeafUnused.get() as number) > bytesFree || step < 400) {
      step += 1;
      store.metrics.append(run.id, progressPoints({ ...msg, step }));
    }
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    const size = store.db.pragma('page_size', { simple: true }) as number;
    // One page more than now: the summary tables (metric_series, metric_buckets) need a page of their own for a
    // new run, before its points fill the last leaf of the metrics table.
    const fillerRows = store.db.prepare('SELECT COUNT(*) FROM metrics WHERE run_id = ?').pluck().get(run.id) as number;
    return { bytes: (pages + 1) * size, fillerRows };
  } finally {
    store.close();
  }
}

interface Message {
  type: string;
  step?: number;
  level?: string;
  message?: string;
}

/** Runs the CLI; holds the database's write lock from the first progress line for three more. */
function resumeUnderLock(argv: string[]): Promise<{ code: number | null; stderr: string; messages: Message[] }> {
  const child = spawn(process.execPath, [BIN, ...argv], { env: { ...env, SADPM_DB_BUSY_TIMEOUT_MS: '50' } });
  const messages: Message[] = [];
  let stderr = '';
  let buf = '';
  let lock: Database.Database | null = null;
  let lockedAt = -1;
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const m = JSON.parse(line) as Message;
      messages.push(m);
      if (m.type !== 'progress') continue;
      const seen = messages.filter((x) => x.type === 'progress').length;
      if (seen === 1) {
        lock = new Database(join(home, 'sadpm.db'));
        lock.exec('BEGIN IMMEDIATE');
        lockedAt = seen;
      } else if (lock && seen === lockedAt + 3) {
        lock.exec('COMMIT');
        lock.close();
        lock = null;
      }
    }
  });
  return new Promise((res) =>
    child.on('close', (code) => {
      (lock as Database.Database | null)?.close();
      res({ code, stderr, messages });
    }),
  );
}

describe('sadpm train on a full run database', () => {
  it('stops cleanly with the reason, keeps earlier data, and resumes once there is room', async () => {
    // A few steps of metrics fit.
    const { bytes, fillerRows } = fillLeavingRoom(1000);
    const r = sadpm(['train', ...args, '--steps', '400', '--name', 'full'], { SADPM_DB_MAX_BYTES: String(bytes) });
    expect(r.code, r.stderr).toBe(1);
    const reason = /sadpm train: run #2 failed: (.*)\n/.exec(r.stderr)?.[1];
    expect(reason, r.stderr).toBeDefined();
    const db = join(home, 'sadpm.db');
    expect(reason).toContain(`the run database ${db} could not be written (the disk or the database is full`);
    const said = new RegExp(
      'SQLITE_FULL\\); data folder .*: \\d+(\\.\\d+)? (MiB|GiB) free; training was stopped at step (\\d+); ' +
        "its metrics are recorded up to step (\\d+), so 'resume' continues " +
        '(from step (\\d+), its last recorded checkpoint|from the start), once there is room$',
    ).exec(reason!);
    expect(said, reason).not.toBeNull();
    const [stopStep, recorded, resumeFrom] = [Number(said![3]), Number(said![4]), Number(said![6] ?? 0)];
    // Said while it happened, and no stack trace.
    const stopping = /error: the run database .* stopping the run at step \d+ \(a checkpoint is written first\)/;
    expect(r.stderr).toMatch(stopping);
    expect(r.stderr).not.toMatch(/\n\s+at /);

    const store = RunStore.open(home);
    try {
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(store.db.prepare('SELECT COUNT(*) FROM metrics WHERE run_id = 1').pluck().get()).toBe(fillerRows);
      const run = store.runs.get(2)!;
      expect(run.status).toBe('failed');
      expect(run.failureReason).toBe(reason);
      expect(stopStep).toBeLessThan(60);
      // Steps were recorded before the database filled, contiguous from step 1.
      expect(recorded).toBeGreaterThan(0);
      expect(store.metrics.series(2, 'loss', 1e6).steps).toEqual(Array.from({ length: recorded }, (_, i) => i + 1));
      expect(store.checkpoints.latest(2)?.step ?? 0).toBe(resumeFrom);
      expect(resumeFrom).toBeLessThanOrEqual(recorded);
      // The engine wrote its stop checkpoint; its metrics were lost, so it is not what resume starts from.
      const ck = join(run.runDir, 'checkpoints', `ckpt-${String(stopStep).padStart(7, '0')}.sadpm-ck`);
      expect(readCheckpoint(ck).step).toBe(stopStep);
    } finally {
      store.close();
    }

    // Space is back (no cap): resume continues from the last recorded checkpoint. Meanwhile a second
    // connection takes the write lock for three steps.
    const steps = stopStep + 4;
    const resumed = await resumeUnderLock(['resume', '2', '--steps', String(steps), '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const logs = resumed.messages.filter((m) => m.type === 'log');
    const locked = /sadpm\.db is locked by another process \(SQLITE_BUSY\); training goes on/;
    expect(logs).toEqual([
      { type: 'log', level: 'warn', message: expect.stringMatching(locked) },
      { type: 'log', level: 'info', message: expect.stringMatching(/writes again after \d+\.\d s; nothing was lost/) },
    ]);
    expect(resumed.messages.find((m) => m.type === 'started')).toMatchObject({ step: resumeFrom });
    const after = RunStore.open(home);
    try {
      expect(after.runs.get(2)).toMatchObject({ status: 'completed', step: steps });
      // One continuous history: every step once, for every metric.
      const names = after.metrics.names(2);
      expect(names).toContain('loss');
      for (const name of names) {
        expect(after.metrics.series(2, name, 1e6).steps, name).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
      }
      expect(after.checkpoints.latest(2)!.step).toBe(steps);
    } finally {
      after.close();
    }
  }, 300_000);
});
