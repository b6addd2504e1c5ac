import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunRecorder, progressPoints } from '../../../src/store/recorder';
import { PROGRESS_METRICS } from '../../../src/shared/metricNames';
import type { ProgressMessage } from '../../../src/shared/engineMessages';
import { freshStore, newRun } from './helpers';

const progress = (step: number, loss = 1 / step): ProgressMessage => ({
  type: 'progress',
  step,
  totalSteps: 100,
  loss,
  simple: loss / 2,
  sa: loss / 2,
  gradNorm: 3,
  lr: 1e-4,
  imagesPerSec: 10,
  msPerStep: 100,
  etaSec: 1,
  memory: { numTensors: 5, numBytes: 1000, gpuBytes: 2000 },
});

function setup(opts: { flushMs?: number; maxBuffered?: number } = {}) {
  const store = freshStore();
  const run = store.runs.create(newRun({ retention: undefined }));
  store.runs.markRunning(run.id, { pid: process.pid, start: '' });
  const rec = new RunRecorder(store, run.id, { flushMs: 500, ...opts });
  const countStmt = store.db
    .prepare(
      "SELECT COUNT(*) FROM metrics m JOIN metric_names n ON n.id = m.name_id WHERE m.run_id = ? AND n.name = 'loss'",
    )
    .pluck();
  const count = () => countStmt.get(run.id) as number;
  return { store, run, rec, count };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RunRecorder', () => {
  it('progress points: every progress metric plus memory and the wall time', () => {
    const pts = progressPoints({ ...progress(7), time: 1_700_000_000_500 });
    expect(pts.map((p) => p.name)).toEqual([...PROGRESS_METRICS, 'gpuBytes', 'tensorBytes', 'wallTime']);
    expect(pts.every((p) => p.step === 7)).toBe(true);
    // Seconds since the epoch, from the message; a message without a time gets the recorder's clock.
    expect(pts.at(-1)!.value).toBe(1_700_000_000.5);
    const before = Date.now() / 1000;
    const untimed = progressPoints(progress(8)).at(-1)!.value;
    expect(untimed).toBeGreaterThanOrEqual(before);
    expect(untimed).toBeLessThanOrEqual(Date.now() / 1000);
    const noGpu = progressPoints({ ...progress(1), memory: { numTensors: 1, numBytes: 5 } });
    expect(noGpu.map((p) => p.name)).not.toContain('gpuBytes');
  });

  it('buffers progress until the flush interval, then writes it in one transaction', () => {
    const { store, run, rec, count } = setup();
    const tx = vi.spyOn(store.db, 'transaction');
    rec.handle({
      type: 'started',
      runDir: run.runDir,
      step: 0,
      totalSteps: 100,
      backend: 'cpu',
      adapter: 'cpu (test)',
      params: 1,
      datasetCount: 1,
      resumed: false,
    });
    expect(store.runs.get(run.id)).toMatchObject({ backend: 'cpu', adapter: 'cpu (test)' });
    tx.mockClear();
    for (let s = 1; s <= 5; s++) rec.handle(progress(s));
    expect(count()).toBe(0);
    expect(store.runs.get(run.id)!.step).toBe(0);
    vi.advanceTimersByTime(499);
    expect(count()).toBe(0);
    expect(tx).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(count()).toBe(5);
    expect(tx).toHaveBeenCalledTimes(1);
    expect(store.runs.get(run.id)).toMatchObject({ step: 5, lastLoss: 1 / 5 });
    expect(store.metrics.names(run.id)).toHaveLength(10);
    // The next batch arms a new timer.
    rec.handle(progress(6));
    expect(count()).toBe(5);
    vi.advanceTimersByTime(500);
    expect(count()).toBe(6);
    // Nothing buffered: no timer, no write.
    tx.mockClear();
    vi.advanceTimersByTime(5000);
    expect(tx).not.toHaveBeenCalled();
  });

  it('flushes early when maxBuffered points wait', () => {
    const { rec, count } = setup({ maxBuffered: 27 });
    rec.handle(progress(1));
    rec.handle(progress(2));
    expect(count()).toBe(0);
    rec.handle(progress(3)); // 27 points
    expect(count()).toBe(3);
  });

  it('a checkpoint flushes the pending metrics in the same transaction', () => {
    const { store, run, rec, count } = setup();
    for (let s = 1; s <= 4; s++) rec.handle(progress(s));
    const tx = vi.spyOn(store.db, 'transaction');
    const seen: { inTx: boolean; points: number }[] = [];
    const add = store.checkpoints.add.bind(store.checkpoints);
    vi.spyOn(store.checkpoints, 'add').mockImplementation((c) => {
      seen.push({ inTx: store.db.inTransaction, points: count() });
      return add(c);
    });
    rec.handle({ type: 'checkpoint', step: 4, path: '/ck4', bytes: 10 });
    expect(tx).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([{ inTx: true, points: 4 }]);
    const ck = store.checkpoints.latest(run.id)!;
    expect(ck).toMatchObject({ step: 4, path: '/ck4', bytes: 10, kind: 'full' });
    // The metrics at save are those of the last progress.
    expect(ck.metrics).toEqual({ loss: 0.25, simple: 0.125, sa: 0.125, gradNorm: 3 });
    // The timer was disarmed: nothing is written twice.
    vi.advanceTimersByTime(1000);
    expect(count()).toBe(4);
  });

  it('if the checkpoint row cannot be written, the flushed metrics roll back with it (one transaction)', () => {
    const { store, rec, count } = setup();
    rec.handle(progress(1));
    const seen: number[] = [];
    vi.spyOn(store.checkpoints, 'add').mockImplementation(() => {
      seen.push(count());
      throw new Error('disk I/O error');
    });
    // Not thrown at the caller: the recorder stops recording and asks its owner to stop the run.
    rec.handle({ type: 'checkpoint', step: 1, path: '/ck', bytes: 1 });
    // The point was inside the failed transaction, and neither is written after it.
    expect(seen).toEqual([1]);
    expect(count()).toBe(0);
    expect(store.checkpoints.latest(rec.runId)).toBeUndefined();
  });

  it('gap and samples messages are recorded (a sample links to the checkpoint of its step)', () => {
    const { store, run, rec } = setup();
    rec.handle(progress(2));
    rec.handle({ type: 'checkpoint', step: 2, path: '/ck2', bytes: 1 });
    rec.handle({
      type: 'samples',
      step: 2,
      path: '/s.png',
      n: 4,
      sampler: 'ddim',
      sampleSteps: 5,
      ema: true,
      spacing: 'uniform',
      eta: 0,
      seed: 0,
    });
    rec.handle({ type: 'samples', step: 3, path: '/s3.png', n: 4, sampler: 'ddpm', sampleSteps: 100, ema: false });
    rec.handle({ type: 'gap', step: 2, t0: 2, t: [2, 1], meanAbs: [1, 2], l2: [1, 2], signedMean: [1, 2] });
    const [s2, s3] = store.samples.list(run.id);
    expect(s2).toMatchObject({
      step: 2,
      checkpointId: store.checkpoints.at(run.id, 2)!.id,
      ema: true,
      seed: 0,
      spacing: 'uniform',
    });
    expect(s3).toMatchObject({ step: 3, checkpointId: null, ema: false, seed: null, spacing: null, eta: null });
    expect(store.gaps.list(run.id)).toHaveLength(1);
  });

  it("'finished' and 'failed' set the status and flush; stop intent decides stopped vs paused", () => {
    const a = setup();
    a.rec.handle(progress(1));
    a.rec.handle({ type: 'finished', step: 1, reason: 'completed', runDir: a.run.runDir });
    expect(a.count()).toBe(1);
    expect(a.store.runs.get(a.run.id)).toMatchObject({ status: 'completed', failureReason: null });
    expect(a.rec.ended).toBe(true);
    // A process exit after the end changes nothing.
    a.rec.processEnded(0, null);
    expect(a.store.runs.get(a.run.id)!.status).toBe('completed');

    const b = setup();
    b.rec.handle({ type: 'finished', step: 0, reason: 'stopped', runDir: b.run.runDir });
    expect(b.store.runs.get(b.run.id)!.status).toBe('stopped');
    const c = setup();
    c.rec.stopIntent = 'paused';
    c.rec.handle({ type: 'finished', step: 0, reason: 'stopped', runDir: c.run.runDir });
    expect(c.store.runs.get(c.run.id)!.status).toBe('paused');

    const d = setup();
    d.rec.handle(progress(1));
    d.rec.handle(progress(2));
    d.rec.handle({ type: 'failed', step: 2, reason: 'ENOSPC: no space left on device, write' });
    expect(d.count()).toBe(2);
    expect(d.store.runs.get(d.run.id)).toMatchObject({
      status: 'failed',
      failureReason: 'ENOSPC: no space left on device, write',
    });
  });

  it('an engine that dies without a word: interrupted, naming the last good checkpoint', () => {
    const { store, run, rec, count } = setup();
    rec.handle(progress(1));
    rec.handle(progress(2));
    rec.handle({ type: 'checkpoint', step: 2, path: '/ck2', bytes: 1 });
    rec.handle(progress(3));
    rec.processEnded(null, 'SIGKILL');
    expect(count()).toBe(3);
    expect(store.runs.get(run.id)).toMatchObject({
      status: 'interrupted',
      failureReason: expect.stringMatching(/killed \(SIGKILL\).*last good checkpoint: step 2/),
    });
  });

  it("applies the run's retention policy at each checkpoint", () => {
    const store = freshStore();
    const run = store.runs.create(newRun({ retention: { keepLast: 2 } }));
    const rec = new RunRecorder(store, run.id);
    mkdirSync(join(run.runDir, 'checkpoints'), { recursive: true });
    const path = (s: number) => join(run.runDir, 'checkpoints', `c${s}`);
    for (const s of [1, 2, 3, 4]) {
      writeFileSync(path(s), 'x');
      rec.handle(progress(s));
      rec.handle({ type: 'checkpoint', step: s, path: path(s), bytes: 1 });
    }
    expect(store.checkpoints.list(run.id).map((c) => c.step)).toEqual([3, 4]);
    expect([1, 2, 3, 4].map((s) => existsSync(path(s)))).toEqual([false, false, true, true]);
  });
});
