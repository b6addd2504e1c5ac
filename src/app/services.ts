/**
 * The main-side services, without Electron: the run store (single writer), the run queue with its
 * engine processes, and the job registry. Electron's main process and web mode (`sadpm serve`)
 * both build one of these and put a transport (IPC or WebSocket) in front of the same handlers.
 */
import { RunStore } from '../store/runStore';
import { RunService } from './runService';
import { JobRegistry } from './jobs';
import { UploadSessions } from './uploads';
import { join } from 'node:path';
import type { SpawnEngine } from './engineProcess';
import { describeRecovery, recoverStore } from './recovery';
import type { EventName, EventPayload } from '../shared/contract';
import type { HostMessage } from '../shared/engineMessages';
import { SlurmExecutor } from './executors/slurmExecutor';

export type Emit = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export interface Services {
  store: RunStore;
  runs: RunService;
  /** Issue 16: runs and sweeps on a Slurm cluster, followed while the services are open. */
  slurm: SlurmExecutor;
  jobs: JobRegistry;
  /** Web mode's chunked file uploads into <data>/uploads. */
  uploads: UploadSessions;
  spawn: SpawnEngine;
  mode: 'electron' | 'web';
  emit: Emit;
  /** Adds a listener for every event; returns its remover. */
  subscribe(fn: (event: EventName, payload: unknown) => void): () => void;
  close(): Promise<void>;
}

export function createServices(opts: {
  dataDir: string;
  spawn: SpawnEngine;
  mode: 'electron' | 'web';
  concurrency?: number;
  flushMs?: number;
  /** Where start-up notes go (recovered runs, swept temp files); stderr by default. */
  log?: (line: string) => void;
  /** How often runs on Slurm are polled (default 3 s). */
  slurmPollMs?: number;
}): Services {
  const store = RunStore.open(opts.dataDir);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const line of describeRecovery(recoverStore(store), 'resume them from the Runs view')) log(line);
  const listeners = new Set<(event: EventName, payload: unknown) => void>();
  const emit: Emit = (event, payload) => {
    for (const l of listeners) l(event, payload);
  };
  const runs = new RunService(store, opts.spawn, { concurrency: opts.concurrency ?? 1, flushMs: opts.flushMs });
  const forward = (runId: number, msg: HostMessage) => {
    emit('run.message', { runId, msg });
    if (msg.type === 'started' || msg.type === 'finished' || msg.type === 'failed' || msg.type === 'checkpoint') {
      const run = store.runs.get(runId);
      if (run) emit('run.updated', run);
    }
  };
  const updated = (runId: number) => {
    const run = store.runs.get(runId);
    if (run) emit('run.updated', run);
  };
  runs.onMessage(forward);
  runs.onStatus(updated);
  // Runs on a cluster stream in like local ones: the same events, from their ingested messages.
  const slurm = new SlurmExecutor(store, { pollMs: opts.slurmPollMs, log });
  slurm.onMessage(forward);
  slurm.onStatus(updated);
  slurm.start();
  const jobs = new JobRegistry((e) =>
    e.type === 'progress'
      ? emit('job.progress', { jobId: e.jobId, done: e.done, total: e.total })
      : emit('job.done', { jobId: e.jobId, kind: e.kind, ok: e.ok, error: e.error, result: e.result }),
  );
  const uploads = new UploadSessions(join(store.layout.root, 'uploads'));
  return {
    store,
    runs,
    slurm,
    jobs,
    uploads,
    spawn: opts.spawn,
    mode: opts.mode,
    emit,
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close: async () => {
      jobs.cancelAll();
      uploads.close();
      await runs.shutdown();
      await slurm.stop();
      store.close();
    },
  };
}
