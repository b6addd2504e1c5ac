/**
 * The engine process: trains or samples on command and streams typed messages back. Runs as an
 * Electron utilityProcess in the app and as a child_process.fork from the CLI and web mode, so the
 * process that owns the store never trains and a crash here never takes the store down.
 */
import { parseRunConfig } from '../shared/config';
import {
  EngineCommandSchema,
  type EngineCommand,
  type EngineMessage,
  type HostMessage,
} from '../shared/engineMessages';
import { train } from './train/trainer';
import { gammaJob, gapJob, sampleJob } from './train/checkpointJobs';
import { trainCov } from './train/covTrainer';
import { parseCovConfig } from '../shared/covConfig';
import { runImportJob } from './data/importJob';
import { describeBadCommand } from './badCommand';
import { evalJob, refStatsJob } from './metrics/jobs';
import { stripJob } from './train/stripJob';

interface Transport {
  send(msg: HostMessage): void;
  onMessage(fn: (raw: unknown) => void): void;
  onParentGone(fn: () => void): void;
}

function transport(): Transport {
  const parentPort = (
    process as unknown as {
      parentPort?: { postMessage(m: unknown): void; on(e: 'message', fn: (e: { data: unknown }) => void): void };
    }
  ).parentPort;
  if (parentPort) {
    return {
      send: (m) => parentPort.postMessage(m),
      onMessage: (fn) => parentPort.on('message', (e) => fn(e.data)),
      // A utility process dies with its parent.
      onParentGone: () => {},
    };
  }
  if (!process.send) throw new Error('the engine host must be started by SA-DPM Studio (no IPC channel to a parent)');
  return {
    send: (m) => {
      pendingSends += 1;
      process.send!(m, undefined, {}, () => {
        pendingSends -= 1;
      });
    },
    onMessage: (fn) => process.on('message', fn),
    onParentGone: (fn) => process.on('disconnect', fn),
  };
}

export function runHost(): void {
  const t = transport();
  // Ctrl-C in a terminal reaches the whole process group; the parent decides how to stop.
  process.on('SIGINT', () => {});
  // SIGTERM reaches every process of a batch job that Slurm cancels, requeues or preempts (and every process at a
  // system shutdown): stop as on the parent's 'stop', after the step in progress and a checkpoint, rather than
  // die and lose the steps since the last one.
  let deliver: ((raw: unknown) => void) | null = null;
  process.on('SIGTERM', () => deliver?.({ cmd: 'stop' }));
  t.onParentGone(() => process.exit(70));
  serveCommands({ ...t, onMessage: (fn) => t.onMessage((deliver = fn)) }, exitSoon);
}

/**
 * Answers the parent's commands. Every command it cannot carry out gets a 'rejected' reply naming what
 * was wrong, so a caller waiting for a job's end never waits forever.
 */
export function serveCommands(t: Pick<Transport, 'send' | 'onMessage'>, exit: (code: number) => void): void {
  const trainStop = new AbortController();
  const jobs = new Map<string, AbortController>();
  let training: Promise<unknown> | null = null;

  const reject = (raw: unknown, error: string) => {
    const fields = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    const cmd = typeof fields.cmd === 'string' ? fields.cmd.slice(0, 100) : null;
    const jobId = typeof fields.jobId === 'string' ? fields.jobId : null;
    t.send({ type: 'rejected', cmd, jobId, error });
    // A run's process exists for that run alone: a refused start ends it, and the run is marked failed.
    if ((cmd === 'train' || cmd === 'trainCov') && !training) {
      t.send({ type: 'failed', step: 0, reason: error });
      exit(1);
    }
  };

  t.onMessage((raw) => {
    let cmd: EngineCommand;
    try {
      const parsed = EngineCommandSchema.safeParse(raw);
      if (!parsed.success) return reject(raw, describeBadCommand(raw, parsed.error));
      cmd = parsed.data;
    } catch (err) {
      // A getter or proxy in the value can throw while it is read.
      return reject(undefined, `unreadable command (${(err as Error).message})`);
    }
    handle(cmd).catch((err) => reject(cmd, (err as Error).message));
  });

  /** Runs a cancellable job and reports progress and its end. */
  async function job(
    jobId: string,
    fn: (signal: AbortSignal, onProgress: (done: number, total: number) => void) => Promise<unknown>,
  ): Promise<void> {
    const ctl = new AbortController();
    jobs.set(jobId, ctl);
    let lastSent = 0;
    const onProgress = (done: number, total: number) => {
      const now = Date.now();
      if (done < total && now - lastSent < 100) return;
      lastSent = now;
      t.send({ type: 'jobProgress', jobId, done, total });
    };
    try {
      const result = await fn(ctl.signal, onProgress);
      t.send({ type: 'jobDone', jobId, ok: true, result });
    } catch (err) {
      t.send({ type: 'jobDone', jobId, ok: false, error: ctl.signal.aborted ? 'cancelled' : (err as Error).message });
    } finally {
      jobs.delete(jobId);
    }
  }

  async function handle(cmd: EngineCommand): Promise<void> {
    switch (cmd.cmd) {
      case 'train': {
        if (training) throw new Error('already training');
        const cfg = parseRunConfig(cmd.config);
        training = train(cfg, {
          runDir: cmd.runDir,
          sink: (m) => t.send(m),
          signal: trainStop.signal,
          resumeFrom: cmd.resumeFrom,
        })
          .then(() => exit(0))
          // The trainer already sent 'failed' with the reason.
          .catch(() => exit(1));
        return;
      }
      case 'stop':
        trainStop.abort();
        for (const j of jobs.values()) j.abort();
        if (!training && jobs.size === 0) exit(0);
        return;
      case 'sample':
        return job(cmd.jobId, (signal, onProgress) => sampleJob(cmd.job, signal, onProgress));
      case 'gap':
        return job(cmd.jobId, (signal, onProgress) => gapJob(cmd.job, signal, onProgress));
      case 'import':
        return job(cmd.jobId, (signal, onProgress) => runImportJob(cmd.job, { signal, onProgress }));
      // issue 12
      case 'refStats':
        return job(cmd.jobId, (signal, onProgress) => refStatsJob(cmd.job, signal, onProgress));
      case 'eval':
        return job(cmd.jobId, (signal, onProgress) => evalJob(cmd.job, signal, onProgress));
      case 'cancel':
        jobs.get(cmd.jobId)?.abort();
        return;
      case 'exit':
        exit(0);
        return;
      // Issue 13: Γ estimates and covariance-head runs.
      case 'gamma':
        return job(cmd.jobId, (signal, onProgress) => gammaJob(cmd.job, signal, onProgress));
      case 'trainCov': {
        if (training) throw new Error('already training');
        const cfg = parseCovConfig(cmd.config, 'trainCov: config');
        const opts = { runDir: cmd.runDir, sink: (m: EngineMessage) => t.send(m), signal: trainStop.signal };
        training = trainCov(cfg, { ...opts, resumeFrom: cmd.resumeFrom })
          .then(() => exit(0))
          // trainCov already sent 'failed' with the reason.
          .catch(() => exit(1));
        return;
      }
      // issue 12/15: one noise at several checkpoints.
      case 'strip':
        return job(cmd.jobId, (signal, onProgress) => stripJob(cmd.job, signal, onProgress));
    }
  }
}

let pendingSends = 0;

/** Lets queued IPC messages drain before the process ends. */
function exitSoon(code: number): void {
  const deadline = Date.now() + 5000;
  const tick = () => (pendingSends === 0 || Date.now() > deadline ? process.exit(code) : setTimeout(tick, 10));
  setTimeout(tick, 10);
}
