/**
 * RunService: starts, queues, stops and resumes runs. Each active run trains in its own engine
 * process; this process records its messages in the store (the single writer) and forwards them to
 * listeners (the CLI's progress bar, the app's windows). Runs wait their turn for the GPU.
 */
import { stripNativeLocations } from '../shared/errorText';
import { parseRunConfig } from '../shared/config';
import type { EngineCommand, HostMessage } from '../shared/engineMessages';
import type { RunStatus } from '../shared/records';
import type { RunStore } from '../store/runStore';
import { RunRecorder, type StoreTrouble } from '../store/recorder';
import { currentOwner } from '../store/owner';
import type { EngineProcess, SpawnEngine } from './engineProcess';
import { removeStaleTempFiles } from './recovery';
import { assertResumable } from './useCases/resumeRun';

export interface RunOutcome {
  runId: number;
  status: RunStatus;
  reason: string | null;
}

type Listener = (runId: number, msg: HostMessage) => void;

interface Active {
  proc: EngineProcess;
  recorder: RunRecorder;
  done: Promise<RunOutcome>;
}

interface Waiting {
  runId: number;
  resume: boolean;
  resolve: (o: RunOutcome) => void;
}

/** Lines Dawn prints on every start; not what a crash report should show. */
const NOISE = /Couldn't load Vulkan|maxDynamic|Warning: /;

export class RunService {
  private readonly active = new Map<number, Active>();
  private readonly waiting: Waiting[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly stopping = new Map<number, 'stopped' | 'paused'>();
  concurrency: number;

  constructor(
    private readonly store: RunStore,
    private readonly spawn: SpawnEngine,
    opts: { concurrency?: number; flushMs?: number } = {},
  ) {
    this.concurrency = opts.concurrency ?? 1;
    this.flushMs = opts.flushMs ?? 500;
  }

  private readonly flushMs: number;

  private readonly statusListeners = new Set<(runId: number) => void>();

  /** Called whenever a run's status changes here (queued, running, ended). */
  onStatus(fn: (runId: number) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  private statusChanged(runId: number): void {
    for (const l of this.statusListeners) l(runId);
  }

  onMessage(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  setConcurrency(n: number): void {
    this.concurrency = n;
    this.pump();
  }

  /**
   * A run whose engine already reported its end but whose process has not exited yet: waits for
   * the exit, so a resume right after a pause does not race the old process.
   */
  async settle(runId: number): Promise<void> {
    const a = this.active.get(runId);
    if (a?.recorder.ended) await a.done;
  }

  isActive(runId: number): boolean {
    return this.active.has(runId);
  }

  queued(): number[] {
    return this.waiting.map((w) => w.runId);
  }

  /** Queues a run (fresh or resumed); resolves when its engine process has ended. */
  enqueue(runId: number, opts: { resume?: boolean } = {}): Promise<RunOutcome> {
    const run = this.store.runs.get(runId);
    if (!run) throw new Error(`no run #${runId}`);
    if (this.active.has(runId) || this.waiting.some((w) => w.runId === runId)) {
      throw new Error(`run #${runId} is already ${this.active.has(runId) ? 'running' : 'queued'}`);
    }
    if (opts.resume) assertResumable(this.store, run);
    this.store.runs.markQueued(runId, currentOwner());
    return new Promise((resolve) => {
      this.waiting.push({ runId, resume: opts.resume === true, resolve });
      this.statusChanged(runId);
      this.pump();
    });
  }

  /** Stops after the current step (a checkpoint is written first); a queued run leaves the queue. */
  stop(runId: number, intent: 'stopped' | 'paused' = 'stopped'): void {
    const i = this.waiting.findIndex((w) => w.runId === runId);
    if (i >= 0) {
      const [w] = this.waiting.splice(i, 1);
      this.store.runs.setStatus(runId, intent, null);
      w!.resolve({ runId, status: intent, reason: null });
      this.statusChanged(runId);
      return;
    }
    const a = this.active.get(runId);
    if (!a) throw new Error(`run #${runId} is not running`);
    this.stopping.set(runId, intent);
    a.recorder.stopIntent = intent;
    a.proc.send({ cmd: 'stop' });
  }

  /**
   * Stops every active run and empties the queue; resolves when the engine processes are gone. Waiting
   * runs stay queued under this process, so the next start finds them interrupted (resumable).
   */
  async shutdown(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.resolve({ runId: w.runId, status: 'queued', reason: null });
    const pending = [...this.active.entries()].map(([id, a]) => {
      this.stop(id, 'stopped');
      return a.done;
    });
    await Promise.all(pending);
  }

  private pump(): void {
    while (this.active.size < this.concurrency && this.waiting.length > 0) {
      const w = this.waiting.shift()!;
      this.launch(w).then(w.resolve, (err: Error) => {
        try {
          this.store.runs.setStatus(w.runId, 'failed', err.message);
        } catch {
          // The store refused this too (locked or full): the next start finds the run interrupted.
        }
        w.resolve({ runId: w.runId, status: 'failed', reason: err.message });
      });
    }
  }

  private launch(w: Waiting): Promise<RunOutcome> {
    const run = this.store.runs.get(w.runId)!;
    const ck = w.resume ? this.store.checkpoints.latest(run.id) : undefined;
    // A covariance run (issue 13) trains its head on its parent's frozen checkpoint.
    const start: EngineCommand =
      run.kind === 'cov'
        ? { cmd: 'trainCov', config: run.cov, runDir: run.runDir, resumeFrom: ck?.path }
        : { cmd: 'train', config: parseRunConfig(run.config), runDir: run.runDir, resumeFrom: ck?.path };
    // What was recorded after the resume point is recomputed; drop it so steps never repeat.
    this.store.runs.rewind(run.id, ck?.step ?? 0);
    removeStaleTempFiles(run.runDir);
    this.store.runs.markRunning(run.id, currentOwner());
    this.statusChanged(run.id);
    const proc = this.spawn();
    const recorder = new RunRecorder(this.store, run.id, {
      flushMs: this.flushMs,
      onTrouble: (t) => this.storeTrouble(run.id, proc, t),
    });
    const done = new Promise<RunOutcome>((resolve) => {
      proc.onMessage((msg) => {
        if (msg.type !== 'jobProgress' && msg.type !== 'jobDone' && msg.type !== 'rejected') recorder.handle(msg);
        for (const l of this.listeners) l(run.id, msg);
      });
      proc.onExit((code, signal) => {
        if (recorder.ended) recorder.flush();
        else {
          const useful = (l: string) => !NOISE.test(l) && stripNativeLocations(l).trim() !== '';
          const tail = proc.stderrTail().split('\n').filter(useful).slice(-5).join(' | ');
          recorder.processEnded(code, signal, tail || undefined);
        }
        // Writes held back by a locked database land before the run counts as ended.
        void recorder.idle().then(() => {
          this.active.delete(run.id);
          this.stopping.delete(run.id);
          const end = recorder.final!;
          resolve({ runId: run.id, status: end.status, reason: end.reason });
          this.statusChanged(run.id);
          this.pump();
        });
      });
    });
    this.active.set(run.id, { proc, recorder, done });
    proc.send(start);
    return done;
  }

  /** Store trouble is shown like an engine log line; a write error that waiting cannot fix stops the run. */
  private storeTrouble(runId: number, proc: EngineProcess, t: StoreTrouble): void {
    const level = t.kind === 'recovered' ? 'info' : t.kind === 'fatal' ? 'error' : 'warn';
    const msg: HostMessage = { type: 'log', level, message: t.message };
    for (const l of this.listeners) l(runId, msg);
    if (t.kind === 'fatal' && this.active.has(runId) && !this.stopping.has(runId)) {
      this.stopping.set(runId, 'stopped');
      proc.send({ cmd: 'stop' });
    }
  }
}
