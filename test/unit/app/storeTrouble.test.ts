/**
 * The app's (and web mode's) services while the run store refuses writes during a run: a second
 * connection holding the write lock (real SQLITE_BUSY), and a database that may not grow (real
 * SQLITE_FULL through PRAGMA max_page_count). The server must stay up and keep answering.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services';
import { dispatch, makeHandlers } from '../../../src/app/contract/handlers';
import type { HostMessage } from '../../../src/shared/engineMessages';
import { fakeSpawner, type FakeEngineLog } from './fakeEngine';

vi.mock('electron', () => ({}));

let dir: string;
let services: Services;
let log: FakeEngineLog;
const messages: { runId: number; msg: HostMessage }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-trouble-'));
  log = { spawned: 0, commands: [] };
  // A short busy timeout: each refused write blocks the process this long.
  process.env.SADPM_DB_BUSY_TIMEOUT_MS = '20';
  services = createServices({ dataDir: dir, spawn: fakeSpawner(log), mode: 'web', flushMs: 5 });
  delete process.env.SADPM_DB_BUSY_TIMEOUT_MS;
  messages.length = 0;
  services.subscribe((e, p) => {
    if (e === 'run.message') messages.push(p as { runId: number; msg: HostMessage });
  });
});

afterEach(async () => {
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const tiny = { preset: 'tiny', T: 50, gapT0: 20, checkpointEvery: 50, batch: 2 };
const call = (channel: string, req: unknown) => dispatch(makeHandlers(services), channel, req);

function waitFor(pred: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

type Log = { level: string; message: string };
const logs = (id: number) => messages.filter((m) => m.runId === id && m.msg.type === 'log').map((m) => m.msg as Log);

async function create(steps: number): Promise<number> {
  const r = await call('runs.create', { config: { ...tiny, steps } });
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return (r as { res: { id: number } }).res.id;
}

describe('a run while the store is locked by another connection', () => {
  it('trains on, warns once, and records every step exactly once after the lock is released', async () => {
    const id = await create(300);
    const store = services.store;
    await waitFor(() => store.runs.get(id)!.step >= 5);
    const other = new Database(store.layout.db);
    other.exec('BEGIN IMMEDIATE');
    const lockedAt = store.runs.get(id)!.step;
    const progressed = () => messages.filter((m) => m.runId === id && m.msg.type === 'progress').length;
    const before = progressed();
    await new Promise((r) => setTimeout(r, 400));
    // Training went on (the engine's messages kept coming) while nothing could be written.
    expect(progressed()).toBeGreaterThan(before + 10);
    expect(store.runs.get(id)!.step).toBe(lockedAt);
    const warning = expect.stringMatching(/locked by another process \(SQLITE_BUSY\)/);
    expect(logs(id)).toEqual([{ type: 'log', level: 'warn', message: warning }]);
    // The server answers meanwhile (reads do not need the lock).
    expect((await call('runs.get', { id })).ok).toBe(true);
    other.exec('COMMIT');
    other.close();
    await waitFor(() => store.runs.get(id)!.status === 'completed');
    expect(logs(id).map((l) => l.level)).toEqual(['warn', 'info']);
    expect(store.metrics.series(id, 'loss', 1e6).steps).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    // Each series (the 8 training metrics and the wall time the charts' time axis reads) has every step once,
    // and its summary (issue 15), written in the same transactions as the rows, counts each step once too.
    const perSeries = store.db
      .prepare(
        `SELECT n.name, COUNT(*) AS rows, MIN(m.step) AS lo, MAX(m.step) AS hi,
        s.points, (SELECT SUM(b.n) FROM metric_buckets b WHERE b.run_id = m.run_id AND b.name_id = m.name_id
          AND b.level = 0) AS bucketed
      FROM metrics m JOIN metric_names n ON n.id = m.name_id
      JOIN metric_series s ON s.run_id = m.run_id AND s.name_id = m.name_id
      WHERE m.run_id = ? GROUP BY n.name ORDER BY n.name`,
      )
      .all(id) as { name: string }[];
    expect(perSeries.map((r) => r.name)).toEqual([
      'gradNorm',
      'imagesPerSec',
      'loss',
      'lr',
      'msPerStep',
      'sa',
      'simple',
      'tensorBytes',
      'wallTime',
    ]);
    for (const r of perSeries)
      expect(r).toEqual({ name: r.name, rows: 300, lo: 1, hi: 300, points: 300, bucketed: 300 });
    expect(store.checkpoints.list(id).map((c) => c.step)).toEqual([50, 100, 150, 200, 250, 300]);
  });
});

describe('a run whose database is full', () => {
  it('is stopped (checkpoint first) and failed with the reason; the server stays up, runs the next run', async () => {
    const id = await create(5000);
    const store = services.store;
    await waitFor(() => store.runs.get(id)!.step >= 5);
    const cap = store.db.pragma('page_count', { simple: true }) as number;
    store.db.pragma(`max_page_count = ${cap}`);
    await waitFor(() => !services.runs.isActive(id));
    const run = store.runs.get(id)!;
    expect(run.status).toBe('failed');
    expect(run.failureReason).toContain(`the run database ${store.layout.db} could not be written`);
    expect(run.failureReason).toMatch(/database or disk is full, SQLITE_FULL/);
    expect(run.failureReason).toContain(`data folder ${dir}: `);
    const said = new RegExp(
      'free; training was stopped at step (\\d+); its metrics are recorded up to step (\\d+), ' +
        "so 'resume' continues (.*), once",
    ).exec(run.failureReason!);
    expect(said, run.failureReason!).not.toBeNull();
    const [stopStep, recorded] = [Number(said![1]), Number(said![2])];
    // The engine was asked to stop, and stopped well before its 5000 steps.
    expect(log.commands.map((c) => c.cmd)).toEqual(['train', 'stop']);
    const error = expect.stringMatching(/SQLITE_FULL.*stopping the run at step \d+/);
    expect(logs(id)).toEqual([{ type: 'log', level: 'error', message: error }]);
    expect(stopStep).toBeLessThan(5000);
    // The stored history is contiguous up to the last flush that fit, and the message says where resume goes on.
    const steps = store.metrics.series(id, 'loss', 1e6).steps;
    expect(steps).toEqual(Array.from({ length: recorded }, (_, i) => i + 1));
    const ck = store.checkpoints.latest(id);
    expect(said![3]).toBe(ck ? `from step ${ck.step}, its last recorded checkpoint` : 'from the start');
    expect(ck?.step ?? 0).toBeLessThanOrEqual(recorded);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');

    // Space is back: the same server runs the next run to the end.
    store.db.pragma('max_page_count = 1000000');
    const next = await create(60);
    await waitFor(() => store.runs.get(next)!.status === 'completed');
    expect(store.metrics.series(next, 'loss', 1e6).steps).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect((await call('runs.list', {})).ok).toBe(true);
  });
});
