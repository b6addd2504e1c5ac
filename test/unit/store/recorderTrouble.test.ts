/**
 * The recorder under a store that refuses writes, with real SQLite errors: SQLITE_BUSY from a second
 * connection holding the write lock past the busy timeout, and SQLITE_FULL from PRAGMA max_page_count.
 * Nothing may escape the recorder (in the CLI and the app it runs from timers and IPC callbacks).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import Database from 'better-sqlite3';
import { RunRecorder, type StoreTrouble } from '../../../src/store/recorder';
import { RunStore } from '../../../src/store/runStore';
import type { EngineMessage, ProgressMessage } from '../../../src/shared/engineMessages';
import { newRun, tmpDir } from './helpers';

const progress = (step: number): ProgressMessage => ({
  type: 'progress',
  step,
  totalSteps: 1000,
  loss: 1 / step,
  simple: 0.5 / step,
  sa: 0.5 / step,
  gradNorm: 3,
  lr: 1e-4,
  imagesPerSec: 10,
  msPerStep: 100,
  etaSec: 1,
  memory: { numTensors: 5, numBytes: 1000 },
});
const samples: EngineMessage = {
  type: 'samples',
  step: 4,
  path: '/s4.png',
  n: 2,
  sampler: 'ddim',
  sampleSteps: 2,
  ema: true,
};
const gap: EngineMessage = { type: 'gap', step: 4, t0: 2, t: [2, 1], meanAbs: [1, 2], l2: [1, 2], signedMean: [1, 2] };

function setup(busyTimeoutMs = 20) {
  const store = RunStore.open(tmpDir(), { busyTimeoutMs });
  const run = store.runs.create(newRun());
  store.runs.markRunning(run.id, { pid: process.pid, start: '' });
  const trouble: StoreTrouble[] = [];
  const onTrouble = (t: StoreTrouble) => trouble.push(t);
  const rec = new RunRecorder(store, run.id, { flushMs: 100, retryMs: 50, retryMaxMs: 400, onTrouble });
  const lossSteps = () => store.metrics.series(run.id, 'loss', 1e9).steps;
  return { store, run, rec, trouble, lossSteps };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RunRecorder: SQLITE_BUSY', () => {
  it('keeps every record queued while another connection holds the lock, then writes each exactly once', async () => {
    const { store, run, rec, trouble, lossSteps } = setup();
    for (let s = 1; s <= 2; s++) rec.handle(progress(s));
    vi.advanceTimersByTime(100);
    expect(lossSteps()).toEqual([1, 2]);

    const other = new Database(store.layout.db);
    other.exec('BEGIN IMMEDIATE');
    for (let s = 3; s <= 4; s++) rec.handle(progress(s));
    // The flush timer fires into a locked database: no throw, a warning, a retry scheduled.
    expect(() => vi.advanceTimersByTime(100)).not.toThrow();
    expect(trouble.map((t) => t.kind)).toEqual(['retrying']);
    expect(trouble[0]!.message).toContain(store.layout.db);
    expect(trouble[0]!.message).toMatch(/SQLITE_BUSY/);
    // Records that arrive meanwhile queue behind the points, in order.
    rec.handle({ type: 'checkpoint', step: 4, path: '/ck4', bytes: 7 });
    rec.handle(samples);
    rec.handle(gap);
    for (let s = 5; s <= 6; s++) rec.handle(progress(s));
    rec.handle({ type: 'finished', step: 6, reason: 'completed', runDir: run.runDir });
    let idle = false;
    void rec.idle().then(() => (idle = true));
    // Several retries with backoff, all refused; one warning only.
    for (let i = 0; i < 5; i++) vi.advanceTimersByTime(400);
    await Promise.resolve();
    expect(idle).toBe(false);
    expect(trouble.map((t) => t.kind)).toEqual(['retrying']);
    expect(lossSteps()).toEqual([1, 2]);
    expect(store.runs.get(run.id)!.status).toBe('running');

    other.exec('COMMIT');
    vi.advanceTimersByTime(400);
    await Promise.resolve();
    expect(idle).toBe(true);
    expect(trouble.map((t) => t.kind)).toEqual(['retrying', 'recovered']);
    expect(lossSteps()).toEqual([1, 2, 3, 4, 5, 6]);
    const count = store.db.prepare('SELECT COUNT(*) FROM metrics WHERE run_id = ?').pluck().get(run.id);
    expect(count).toBe(6 * 9);
    expect(store.checkpoints.list(run.id).map((c) => [c.step, c.path])).toEqual([[4, '/ck4']]);
    // A sample row has no natural key: written once means the retries did not repeat it.
    expect(store.samples.list(run.id)).toHaveLength(1);
    expect(store.samples.list(run.id)[0]!.checkpointId).toBe(store.checkpoints.at(run.id, 4)!.id);
    expect(store.gaps.list(run.id)).toHaveLength(1);
    expect(store.runs.get(run.id)).toMatchObject({ status: 'completed', step: 6 });
    expect(rec.final).toEqual({ status: 'completed', reason: null });
    other.close();
    store.close();
  });

  it('a status write (engine crash) that meets the lock lands once it is released', async () => {
    const { store, run, rec, trouble } = setup();
    rec.handle(progress(1));
    const other = new Database(store.layout.db);
    other.exec('BEGIN IMMEDIATE');
    expect(() => rec.processEnded(null, 'SIGKILL')).not.toThrow();
    expect(store.runs.get(run.id)!.status).toBe('running');
    other.exec('ROLLBACK');
    vi.advanceTimersByTime(50);
    await rec.idle();
    expect(trouble.map((t) => t.kind)).toEqual(['retrying', 'recovered']);
    expect(store.runs.get(run.id)).toMatchObject({ status: 'interrupted', step: 1 });
    other.close();
    store.close();
  });
});

describe('RunRecorder: SQLITE_FULL', () => {
  it('stops recording, with a reason naming the database, data folder and free space; earlier data intact', () => {
    const { store, run, rec, trouble, lossSteps } = setup();
    for (let s = 1; s <= 3; s++) rec.handle(progress(s));
    rec.handle({ type: 'checkpoint', step: 3, path: '/ck3', bytes: 1 });
    expect(lossSteps()).toEqual([1, 2, 3]);
    // The database may not grow by a single page from here on: a real SQLITE_FULL once a page fills.
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    let step = 3;
    while (trouble.length === 0 && step < 3000) {
      for (let i = 0; i < 20; i++) rec.handle(progress(++step));
      expect(() => vi.advanceTimersByTime(100)).not.toThrow();
    }
    expect(trouble.map((t) => t.kind)).toEqual(['fatal']);
    const msg = trouble[0]!.message;
    expect(msg).toContain(store.layout.db);
    expect(msg).toContain(`data folder ${store.layout.root}`);
    expect(msg).toMatch(/database or disk is full, SQLITE_FULL/);
    expect(msg).toMatch(/\d+(\.\d+)? (MiB|GiB) free/);
    expect(msg).toMatch(/stopping the run at step \d+/);
    const stored = lossSteps();
    // Whole flushes only, contiguous from step 1.
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(stored.length).toBeLessThan(step);

    // The engine, told to stop, writes its checkpoint and ends: the run ends failed with the reason.
    // The stop checkpoint is not recorded: the points before it are lost, and a resume from it would
    // leave a hole in the history; resume goes on from the last checkpoint recorded with its metrics.
    rec.handle(progress(step + 1));
    rec.handle({ type: 'checkpoint', step: step + 1, path: '/ck', bytes: 1 });
    expect(() => rec.handle({ type: 'finished', step: step + 1, reason: 'stopped', runDir: run.runDir })).not.toThrow();
    vi.advanceTimersByTime(1000);
    expect(trouble).toHaveLength(1);
    expect(rec.final!.status).toBe('failed');
    const failure = msg.slice(0, msg.indexOf('; stopping'));
    expect(rec.final!.reason).toBe(
      `${failure}; training was stopped at step ${step + 1}; ` +
        `its metrics are recorded up to step ${stored.at(-1)}, so 'resume' continues from step 3, its last recorded ` +
        'checkpoint, once there is room',
    );
    expect(store.checkpoints.list(run.id).map((c) => c.step)).toEqual([3]);
    const got = store.runs.get(run.id)!;
    expect(got.status).toBe('failed');
    expect(got.failureReason).toBe(rec.final!.reason);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(lossSteps()).toEqual(stored);
    store.close();
  });
});
