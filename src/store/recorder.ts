/**
 * RunRecorder: turns one run's engine messages into store writes. Progress points are buffered and
 * written in one transaction per flush interval, so the training loop never waits on the disk;
 * checkpoints, gap curves, samples and the end of a run flush what is buffered first, in the same
 * transaction, so a recorded checkpoint always has the metrics logged before it.
 *
 * A failed write never escapes (it would kill the CLI or the app's server from a timer): while another
 * connection holds the lock (SQLITE_BUSY) everything stays queued, in order, and is retried with
 * backoff; every write is keyed (metrics by step) or inside the failed transaction that rolled back, so
 * a retry neither loses nor duplicates. A full disk or any other write error ends recording: the owner
 * is told to stop the engine (which writes a checkpoint) and the run ends 'failed' with the reason.
 */
import type { RunStore, MetricPoint, NewSample } from './runStore';
import { classifyStoreError, describeStoreFailure, errorCode } from './storeErrors';
import type { EngineMessage, GapMessage, ProgressMessage, SamplesMessage } from '../shared/engineMessages';
import type { GapRecord, RunStatus } from '../shared/records';
import { PROGRESS_METRICS, WALL_TIME_METRIC } from '../shared/metricNames';

export function sampleRecordOf(msg: SamplesMessage, runId: number, checkpointId: number | null): NewSample {
  return {
    runId,
    checkpointId,
    step: msg.step,
    sampler: msg.sampler,
    sampleSteps: msg.sampleSteps,
    spacing: msg.spacing ?? null,
    eta: msg.eta ?? null,
    seed: msg.seed ?? null,
    n: msg.n,
    ema: msg.ema,
    path: msg.path,
  };
}

/** A gap message as the store records it. */
export function gapRecordOf(msg: GapMessage, runId: number): GapRecord & { path?: string } {
  const { step, t0, t, meanAbs, l2, signedMean, path } = msg;
  return { runId, step, t0, weights: msg.ema ? 'ema' : 'raw', n: msg.n ?? null, t, meanAbs, l2, signedMean, path };
}

export function progressPoints(m: ProgressMessage): MetricPoint[] {
  const pts: MetricPoint[] = PROGRESS_METRICS.map((name) => ({ step: m.step, name, value: m[name] }));
  if (m.memory.gpuBytes !== undefined) pts.push({ step: m.step, name: 'gpuBytes', value: m.memory.gpuBytes });
  pts.push({ step: m.step, name: 'tensorBytes', value: m.memory.numBytes });
  // The charts' time axes (issue 15): when the step's scalars were read, else when the recorder got them.
  pts.push({ step: m.step, name: WALL_TIME_METRIC, value: (m.time ?? Date.now()) / 1000 });
  return pts;
}

/** What the recorder tells its owner about the store: shown to the user; 'fatal' asks to stop the engine. */
export interface StoreTrouble {
  kind: 'retrying' | 'recovered' | 'fatal';
  message: string;
}

export interface RecorderOptions {
  flushMs?: number;
  /** Flush early when this many points are waiting. */
  maxBuffered?: number;
  /** First wait before retrying a write that found the database locked; doubles up to retryMaxMs. */
  retryMs?: number;
  retryMaxMs?: number;
  onTrouble?: (t: StoreTrouble) => void;
}

interface Write {
  fn: () => void;
  /** A checkpoint row: after a fatal error it is not written (see commitBestEffort). */
  checkpoint?: boolean;
}

export class RunRecorder {
  private buffer: MetricPoint[] = [];
  /** Record writes (checkpoint, gap, samples, status, ...) in message order, committed with the buffer. */
  private pending: Write[] = [];
  private lastStep = -1;
  private lastLoss: number | null = null;
  private lastMetrics: Record<string, number> = {};
  private lastIps: number | null = null;
  private lastCheckpointSeen: number | null = null;
  /** The last progress step whose points are in the store (-1: none written by this recorder). */
  private recordedStep = -1;
  private retentionDue = false;
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 0;
  private lockedSince = 0;
  /** Set once a write failed for a reason that waiting does not fix; later writes are best effort. */
  private failure: string | null = null;
  private idleWaiters: (() => void)[] = [];
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  private readonly retryMs: number;
  private readonly retryMaxMs: number;
  private readonly onTrouble: (t: StoreTrouble) => void;
  /** What a 'finished' with reason 'stopped' means: the user paused or stopped. */
  stopIntent: 'stopped' | 'paused' = 'stopped';
  ended = false;
  /** The end status, as known here even if the store could not take it. */
  final: { status: RunStatus; reason: string | null } | null = null;

  constructor(
    private readonly store: RunStore,
    readonly runId: number,
    opts: RecorderOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 500;
    this.maxBuffered = opts.maxBuffered ?? 5000;
    this.retryMs = opts.retryMs ?? 250;
    this.retryMaxMs = opts.retryMaxMs ?? 5000;
    this.onTrouble = opts.onTrouble ?? (() => {});
  }

  handle(msg: EngineMessage): void {
    switch (msg.type) {
      case 'started':
        this.write({ fn: () => this.store.runs.setBackend(this.runId, msg.backend, msg.adapter) });
        return;
      case 'progress':
        this.lastStep = msg.step;
        this.lastLoss = msg.loss;
        this.lastMetrics = { loss: msg.loss, simple: msg.simple, sa: msg.sa, gradNorm: msg.gradNorm };
        this.lastIps = msg.imagesPerSec;
        if (this.failure) return;
        this.buffer.push(...progressPoints(msg));
        if (this.buffer.length >= this.maxBuffered) this.commit();
        else this.arm();
        return;
      case 'checkpoint': {
        const metrics = this.lastMetrics;
        this.lastCheckpointSeen = msg.step;
        const fn = () => {
          const { step, path, bytes } = msg;
          this.store.checkpoints.add({ runId: this.runId, step, kind: 'full', path, bytes, metrics });
          this.retentionDue = true;
        };
        this.write({ fn, checkpoint: true });
        return;
      }
      case 'gap':
        this.write({ fn: () => this.store.gaps.add(gapRecordOf(msg, this.runId)) });
        return;
      case 'samples':
        this.write({
          fn: () => {
            const ck = this.store.checkpoints.at(this.runId, msg.step);
            this.store.samples.add(sampleRecordOf(msg, this.runId, ck?.id ?? null));
          },
        });
        return;
      case 'finished':
        this.end(msg.reason === 'completed' ? 'completed' : this.stopIntent, null);
        return;
      case 'failed':
        this.end('failed', msg.reason);
        return;
      case 'log':
        return;
    }
  }

  /** The engine process ended without saying why (killed, crashed); `detail`: what it printed last. */
  processEnded(code: number | null, signal: string | null, detail?: string): void {
    if (this.ended) return;
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    const ck = this.lastCheckpoint(true);
    const reason =
      `the engine process ${how} before the run finished; ` +
      `${ck !== null ? `last good checkpoint: step ${ck}` : 'no checkpoint was written yet'}`;
    this.end('interrupted', detail ? `${reason}; stderr: ${detail}` : reason);
  }

  /** Writes what is buffered now (or schedules it, while the database is locked). */
  flush(): void {
    this.commit();
  }

  /**
   * Drops what is not written yet and stops retrying: for an owner that keeps its own record of what was
   * written (message ingestion replays from its offset after a rolled-back transaction).
   */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = null;
    this.retryTimer = null;
    this.buffer = [];
    this.pending = [];
    this.settle();
  }

  /** Resolves once nothing waits to be written (or recording has given up after a fatal error). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && this.pending.length === 0 && this.retryTimer === null;
  }

  /** The latest checkpoint step in the store, and with `seen`, also of the messages (queued writes). */
  private lastCheckpoint(seen: boolean): number | null {
    let stored = -1;
    try {
      stored = this.store.checkpoints.latest(this.runId)?.step ?? -1;
    } catch {
      // A read that fails here only loses a detail of the message.
    }
    const step = Math.max(stored, seen ? (this.lastCheckpointSeen ?? -1) : -1);
    return step >= 0 ? step : null;
  }

  private end(status: RunStatus, reason: string | null): void {
    if (this.failure) {
      const ck = this.lastCheckpoint(false);
      const what = status === 'completed' ? 'training completed' : 'training was stopped';
      const at = this.lastStep >= 0 ? ` at step ${this.lastStep}` : '';
      const kept =
        this.recordedStep >= 0
          ? `its metrics are recorded up to step ${this.recordedStep}`
          : 'none of its metrics of this session were recorded';
      const from = ck !== null ? `from step ${ck}, its last recorded checkpoint` : 'from the start';
      reason =
        `${this.failure}; ${what}${at}; ${kept}, so 'resume' continues ${from}, once there is room` +
        (reason ? `; engine: ${reason}` : '');
      status = 'failed';
    }
    this.ended = true;
    this.final = { status, reason };
    this.write({ fn: () => this.store.runs.setStatus(this.runId, status, reason) });
  }

  private write(w: Write): void {
    this.pending.push(w);
    this.commit();
  }

  private arm(): void {
    if (this.timer || this.retryTimer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.commit();
    }, this.flushMs);
    this.timer.unref?.();
  }

  /** Buffered points, progress and queued writes in one transaction; never throws. */
  private commit(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // While a retry is scheduled, it writes everything in order.
    if (this.retryTimer) return;
    if (this.failure) return this.commitBestEffort();
    if (this.buffer.length === 0 && this.pending.length === 0) return this.settle();
    const pts = this.buffer;
    const writes = this.pending;
    try {
      this.store.writeTransaction(() => {
        this.store.metrics.insert(this.runId, pts);
        if (this.lastStep >= 0) this.store.runs.setProgress(this.runId, this.lastStep, this.lastLoss);
        if (pts.length) {
          const { simple, sa } = this.lastMetrics;
          this.store.runs.setLastTerms(this.runId, { simple, sa, imagesPerSec: this.lastIps });
        }
        for (const w of writes) w.fn();
      });
    } catch (err) {
      this.retentionDue = false;
      this.writeFailed(err);
      return;
    }
    this.buffer = [];
    this.pending = [];
    if (pts.length) this.recordedStep = this.lastStep;
    if (this.retryDelay > 0) {
      const secs = ((Date.now() - this.lockedSince) / 1000).toFixed(1);
      this.retryDelay = 0;
      const message = `the run database accepts writes again after ${secs} s; nothing was lost`;
      this.onTrouble({ kind: 'recovered', message });
    }
    this.applyRetention();
    this.settle();
  }

  /**
   * After a fatal error: each queued record (the end status among them) gets one try of its own; what
   * fails is dropped, so a full disk is not retried forever. Points are no longer written, and neither
   * are checkpoints (the points before them are lost): the stored history stays one contiguous series,
   * and resume continues from the last checkpoint recorded with all its metrics.
   */
  private commitBestEffort(): void {
    const writes = this.pending.filter((w) => !w.checkpoint);
    this.pending = [];
    this.buffer = [];
    for (const w of writes) {
      try {
        this.store.writeTransaction(w.fn);
      } catch {
        // Already reported to the owner, who stops the run.
      }
    }
    this.retentionDue = false;
    this.settle();
  }

  private writeFailed(err: unknown): void {
    const { db, root } = this.store.layout;
    if (classifyStoreError(err, root) === 'busy') {
      if (this.retryDelay === 0) {
        this.lockedSince = Date.now();
        this.onTrouble({
          kind: 'retrying',
          message:
            `the run database ${db} is locked by another process (${errorCode(err)}); training goes on, ` +
            'its records are kept in memory and written once the lock is released (retrying)',
        });
      }
      this.retryDelay = Math.min(this.retryMaxMs, this.retryDelay === 0 ? this.retryMs : this.retryDelay * 2);
      // Not unref'd: a process that has nothing else left to do must still wait for these writes.
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.commit();
      }, this.retryDelay);
      return;
    }
    this.failure = describeStoreFailure(err, db, root);
    this.retryDelay = 0;
    const step = this.lastStep >= 0 ? ` at step ${this.lastStep}` : '';
    const message = `${this.failure}; stopping the run${step} (a checkpoint is written first)`;
    this.onTrouble({ kind: 'fatal', message });
    this.commitBestEffort();
  }

  private settle(): void {
    if (!this.isIdle()) return;
    for (const fn of this.idleWaiters.splice(0)) fn();
  }

  private applyRetention(): void {
    if (!this.retentionDue) return;
    this.retentionDue = false;
    try {
      const policy = this.store.runs.retention(this.runId);
      if (policy) this.store.checkpoints.prune(this.runId, policy);
    } catch {
      // Pruning is tidying: the next checkpoint applies the policy again.
      this.retentionDue = true;
    }
  }
}
