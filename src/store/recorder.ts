/**
 * RunRecorder: turns one run's engine messages into store writes. Progress points are buffered and
 * written in one transaction per flush interval, so the training loop never waits on the disk;
 * checkpoints, gap curves, samples and the end of a run flush what is buffered first, in the same
 * transaction, so a recorded checkpoint always has the metrics logged before it.
 */
import type { RunStore, MetricPoint } from './runStore';
import type { EngineMessage, ProgressMessage, SamplesMessage } from '../shared/engineMessages';
import type { RunStatus, SampleRecord } from '../shared/records';

export function sampleRecordOf(msg: SamplesMessage, runId: number, checkpointId: number | null): Omit<SampleRecord, 'id' | 'createdAt'> {
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

export const PROGRESS_METRICS = ['loss', 'simple', 'sa', 'gradNorm', 'lr', 'imagesPerSec', 'msPerStep'] as const;

export function progressPoints(m: ProgressMessage): MetricPoint[] {
  const pts: MetricPoint[] = PROGRESS_METRICS.map((name) => ({ step: m.step, name, value: m[name] }));
  if (m.memory.gpuBytes !== undefined) pts.push({ step: m.step, name: 'gpuBytes', value: m.memory.gpuBytes });
  pts.push({ step: m.step, name: 'tensorBytes', value: m.memory.numBytes });
  return pts;
}

export interface RecorderOptions {
  flushMs?: number;
  /** Flush early when this many points are waiting. */
  maxBuffered?: number;
}

export class RunRecorder {
  private buffer: MetricPoint[] = [];
  private lastStep = -1;
  private lastLoss: number | null = null;
  private lastMetrics: Record<string, number> = {};
  private timer: NodeJS.Timeout | null = null;
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  /** What a 'finished' with reason 'stopped' means: the user paused or stopped. */
  stopIntent: 'stopped' | 'paused' = 'stopped';
  ended = false;

  constructor(
    private readonly store: RunStore,
    readonly runId: number,
    opts: RecorderOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 500;
    this.maxBuffered = opts.maxBuffered ?? 5000;
  }

  handle(msg: EngineMessage): void {
    switch (msg.type) {
      case 'started':
        this.store.setBackend(this.runId, msg.backend, msg.adapter);
        return;
      case 'progress':
        this.buffer.push(...progressPoints(msg));
        this.lastStep = msg.step;
        this.lastLoss = msg.loss;
        this.lastMetrics = { loss: msg.loss, simple: msg.simple, sa: msg.sa, gradNorm: msg.gradNorm };
        if (this.buffer.length >= this.maxBuffered) this.flush();
        else this.arm();
        return;
      case 'checkpoint':
        this.inTransaction(() => {
          this.store.addCheckpoint({ runId: this.runId, step: msg.step, kind: 'full', path: msg.path, bytes: msg.bytes, metrics: this.lastMetrics });
        });
        this.applyRetention();
        return;
      case 'gap':
        this.inTransaction(() => this.store.addGap({ runId: this.runId, ...msg }));
        return;
      case 'samples':
        this.inTransaction(() => this.store.addSample(sampleRecordOf(msg, this.runId, this.store.checkpointAt(this.runId, msg.step)?.id ?? null)));
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

  /** The engine process ended without saying why (killed, crashed). */
  processEnded(code: number | null, signal: string | null): void {
    if (this.ended) return;
    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    const ck = this.store.latestCheckpoint(this.runId);
    this.end('interrupted', `the engine process ${how} before the run finished; ${ck ? `last good checkpoint: step ${ck.step}` : 'no checkpoint was written yet'}`);
  }

  private end(status: RunStatus, reason: string | null): void {
    this.inTransaction(() => this.store.setStatus(this.runId, status, reason));
    this.ended = true;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.flushMs);
    this.timer.unref?.();
  }

  /** Writes buffered points (and anything passed) in one transaction. */
  private inTransaction(extra?: () => void): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const pts = this.buffer;
    this.buffer = [];
    this.store.db.transaction(() => {
      this.store.insertMetrics(this.runId, pts);
      if (this.lastStep >= 0) this.store.setProgress(this.runId, this.lastStep, this.lastLoss);
      extra?.();
    })();
  }

  flush(): void {
    this.inTransaction();
  }

  private applyRetention(): void {
    const policy = this.store.retentionOf(this.runId);
    if (policy) this.store.prune(this.runId, policy);
  }
}
