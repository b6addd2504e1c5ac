/**
 * The Slurm executor (issue 16): sends runs to a cluster as one `sbatch --array` job, then follows them —
 * every few seconds while any is live it asks Slurm for their states, brings their folders home (over ssh),
 * ingests their engine messages into the store and announces what changed, like the local run queue does.
 * Cancel is scancel; resume sends the run again (its task resumes from the latest checkpoint).
 *
 * Runs on a cluster outlive the studio: what it needs to follow them is in the store (remote_runs), and the
 * first studio process to claim a run follows it (another one, e.g. `sadpm sweep-status` while the app is open,
 * leaves it to the claimant).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { HostMessage } from '../../shared/engineMessages';
import { FieldError } from '../../shared/errors';
import type { RunRecord } from '../../shared/records';
import type { SlurmOptions } from '../../shared/sweep';
import { currentOwner } from '../../store/owner';
import type { RunStore, RemoteRunRecord } from '../../store/runStore';
import { folderMapper, MessageIngestor } from '../ingest';
import { prepareResume } from '../useCases/resumeRun';
import { SlurmClient } from './slurm/client';
import type { SlurmJob } from './slurm/parse';
import { remoteStatus, type RemoteFacts } from './slurm/remoteStatus';
import { DEFAULT_MESSAGES_FILE, renderArrayScript, type ArrayTask } from './slurm/sbatchScript';
import { mapSlurmJob } from './slurm/states';
import { pullRunFolder } from './slurm/sync';
import {
  localSadpmCommand,
  NODE_STORE_DIR,
  parseTarget,
  runnerFor,
  sshSettings,
  targetKey,
  type RemoteTarget,
  type RunnerSettings,
} from './slurm/target';

export interface SlurmExecutorOptions extends RunnerSettings {
  /** How often live runs are polled (default 3 s). */
  pollMs?: number;
  /** Notes for the user (a cluster that can't be reached, skipped message lines). */
  log?: (line: string) => void;
}

export interface SubmitOptions {
  slurm: SlurmOptions;
  maxParallel?: number;
  /** Letters, digits, '._+-': shows in squeue. */
  jobName: string;
}

type Listener = (runId: number, msg: HostMessage) => void;

/** The action does not fit the run's state in Slurm (cancel an ended run, resume one still there). */
export class RemoteRunConflict extends Error {}

/** The run folder that a new run gets when it goes to this cluster (before it is created). */
export function remoteRunsFolder(slurm: SlurmOptions): string | undefined {
  if (slurm.ssh !== undefined) {
    if (!slurm.remoteDir) {
      throw new FieldError('remoteDir', 'a folder on the cluster (shared by its nodes) is needed with ssh');
    }
    return undefined;
  }
  return slurm.remoteDir;
}

export class SlurmExecutor {
  private readonly ingestor: MessageIngestor;
  private readonly owner = currentOwner();
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<(runId: number) => void>();
  private readonly pollMs: number;
  private readonly log: (line: string) => void;
  private readonly settings: RunnerSettings;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = true;
  private readonly unreachable = new Set<string>();
  private controlDir: string | null = null;

  constructor(
    private readonly store: RunStore,
    opts: SlurmExecutorOptions = {},
  ) {
    this.ingestor = new MessageIngestor(store);
    this.pollMs = opts.pollMs ?? 3000;
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.settings = { sshProgram: opts.sshProgram, sshControlDir: opts.sshControlDir };
  }

  onMessage(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onStatus(fn: (runId: number) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  /** True for a run that was sent to Slurm (live or not). */
  isRemote(runId: number): boolean {
    return this.store.remote.get(runId) !== undefined;
  }

  /** Sends runs (created, not started) as the tasks of one array job; returns its id. */
  async submit(runs: readonly RunRecord[], opts: SubmitOptions): Promise<number> {
    if (runs.length === 0) throw new Error('nothing to send to Slurm: no runs');
    const s = opts.slurm;
    remoteRunsFolder(s);
    const sadpm = s.sadpm ?? (s.ssh !== undefined ? ['sadpm'] : localSadpmCommand());
    if (!sadpm) {
      throw new FieldError('sadpm', "how the compute nodes start sadpm, e.g. 'node /opt/sa-dpm/bin/sadpm.mjs'");
    }
    const base = s.ssh !== undefined ? s.remoteDir! : (s.remoteDir ?? this.store.layout.runs);
    const options = {
      partition: s.partition,
      account: s.account,
      time: s.time,
      gpus: s.gpus,
      gpuType: s.gpuType,
      cpusPerTask: s.cpusPerTask,
      memory: s.memory,
    };
    const targets: RemoteTarget[] = runs.map((r) => ({
      ssh: s.ssh,
      slurmConf: s.slurmConf,
      sadpm,
      options,
      logDir: `${base.replace(/\/+$/, '')}/slurm-logs`,
      runDir: s.ssh !== undefined ? `${base.replace(/\/+$/, '')}/${basename(r.runDir)}` : r.runDir,
    }));
    const tasks: ArrayTask[] = runs.map((r, i) => ({
      runDir: targets[i]!.runDir,
      trainArgs: retentionArgs(this.store, r.id),
      configJson: JSON.stringify(r.config),
    }));
    const jobId = await this.send(targets[0]!, tasks, opts.jobName, opts.maxParallel);
    this.store.writeTransaction(() => {
      runs.forEach((r, i) => {
        this.store.remote.add(r.id, targets[i], jobId, i);
        this.store.remote.applyStatus(r.id, 'queued', `submitted to Slurm: task ${jobId}_${i}`);
      });
    });
    for (const r of runs) {
      this.store.remote.claim(r.id, this.owner);
      this.statusChanged(r.id);
    }
    this.arm(0);
    return jobId;
  }

  /** scancel of a run's task; the next poll records it as stopped (or paused) once Slurm has ended it. */
  async cancel(runId: number, intent: 'stopped' | 'paused' = 'stopped'): Promise<void> {
    const r = this.requireLive(runId);
    this.store.remote.setStopIntent(runId, intent);
    await this.client(parseTarget(r.target, runId)).cancel(r.ref);
    this.arm(0);
  }

  /** scancel of a whole array job (a sweep): every task of it, pending or running. */
  async cancelJob(jobId: number, target: Pick<RemoteTarget, 'ssh' | 'slurmConf'>): Promise<void> {
    for (const r of this.store.remote.live()) {
      if (r.jobId === jobId) this.store.remote.setStopIntent(r.runId, 'stopped');
    }
    await this.client(target).cancel(String(jobId));
    this.arm(0);
  }

  /** Sends an ended run again (one-task job): its task resumes from the latest checkpoint in its folder. */
  async resume(runId: number, opts: { steps?: number } = {}): Promise<void> {
    const r = this.store.remote.get(runId);
    if (!r) throw new RemoteRunConflict(`run #${runId} was not sent to Slurm`);
    if (!r.final) throw new RemoteRunConflict(`run #${runId} is still in Slurm (task ${r.ref}); cancel it first`);
    const run = prepareResume(this.store, this.store.runs.get(runId)!, { steps: opts.steps });
    const target = parseTarget(r.target, runId);
    const task: ArrayTask = {
      runDir: target.runDir,
      trainArgs: retentionArgs(this.store, runId),
      configJson: JSON.stringify(run.config),
      resumeArgs: opts.steps !== undefined ? ['--steps', String(opts.steps)] : [],
    };
    const jobId = await this.send(target, [task], `sadpm-run-${runId}`);
    this.store.writeTransaction(() => {
      this.store.remote.resubmitted(runId, target, jobId, 0);
      this.store.remote.applyStatus(runId, 'queued', `submitted to Slurm again: task ${jobId}_0`);
    });
    this.store.remote.claim(runId, this.owner);
    this.statusChanged(runId);
    this.arm(0);
  }

  /** Polls every pollMs while runs are live; idempotent. */
  start(): void {
    this.stopped = false;
    this.arm(0);
  }

  /** Stops polling, waits for a poll in progress, and lets other processes follow the runs. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    for (const r of this.store.remote.live()) this.store.remote.release(r.runId, this.owner);
    if (this.controlDir) rmSync(this.controlDir, { recursive: true, force: true });
  }

  /** Runs this process follows that Slurm may still run (or whose messages are not all in). */
  following(): number[] {
    return this.store.remote
      .live()
      .filter((r) => this.isMine(r))
      .map((r) => r.runId);
  }

  /** One poll: claim, ask Slurm, pull, ingest, derive statuses. Concurrent calls share one poll. */
  tick(): Promise<void> {
    this.ticking ??= this.poll().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick()
        .catch((err: Error) => this.log(`following runs on Slurm: ${err.message}`))
        .then(() => {
          let live: boolean;
          try {
            live = this.store.remote.live().length > 0;
          } catch {
            return; // The store was closed under us: nothing left to follow.
          }
          this.arm(live ? this.pollMs : this.pollMs * 5);
        });
    }, ms);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    const mine = this.store.remote.live().filter((r) => this.store.remote.claim(r.runId, this.owner));
    const groups = new Map<string, RemoteRunRecord[]>();
    for (const r of mine) {
      const key = targetKey(parseTarget(r.target, r.runId));
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    for (const [key, runs] of groups) {
      const target = parseTarget(runs[0]!.target, runs[0]!.runId);
      const jobs = await this.jobsOf(key, target, runs);
      for (const r of runs) {
        try {
          await this.follow(r, jobs);
        } catch (err) {
          this.log(`run #${r.runId} (Slurm task ${r.ref}): ${(err as Error).message}`);
        }
      }
    }
  }

  /** The tasks' states by ref; null when Slurm could not be asked (then nothing is concluded from silence). */
  private async jobsOf(
    key: string,
    target: RemoteTarget,
    runs: RemoteRunRecord[],
  ): Promise<Map<string, SlurmJob> | null> {
    const client = this.client(target);
    try {
      const ids = [...new Set(runs.map((r) => String(r.jobId)))];
      const jobs = new Map((await client.jobs(ids)).map((j) => [j.ref, j]));
      const missing = runs.filter((r) => !jobs.has(r.ref)).map((r) => r.ref);
      if (missing.length > 0) {
        // squeue forgets jobs MinJobAge after they end; a cluster with accounting still knows them.
        try {
          for (const j of await client.accounting(missing)) jobs.set(j.ref, j);
        } catch {
          // No accounting on this cluster: the messages alone tell how those runs ended.
        }
      }
      if (this.unreachable.delete(key)) this.log(`Slurm (${client.runner.label}) answers again`);
      return jobs;
    } catch (err) {
      if (!this.unreachable.has(key)) this.log(`cannot ask Slurm about runs: ${(err as Error).message}; retrying`);
      this.unreachable.add(key);
      return null;
    }
  }

  private async follow(r: RemoteRunRecord, jobs: Map<string, SlurmJob> | null): Promise<void> {
    const target = parseTarget(r.target, r.runId);
    const run = this.store.runs.get(r.runId);
    if (!run) return;
    if (target.ssh !== undefined) {
      try {
        await pullRunFolder(sshSettings(target, this.controlSettings()), target.runDir, run.runDir);
      } catch (err) {
        if (jobs) this.log(`run #${r.runId}: bringing its folder home failed: ${(err as Error).message}`);
        if (!jobs) return;
      }
    }
    const job = jobs?.get(r.ref);
    const slurm: RemoteFacts['slurm'] | undefined =
      jobs === null ? undefined : job ? { ...mapSlurmJob(job), state: job.state } : null;
    if (jobs !== null) this.store.remote.setSlurm(r.runId, job?.state ?? null, job?.reason ?? null);
    let final = false;
    let changed = false;
    let settled = false;
    const settle = (end: RemoteRunRecord['attemptEnd']) => {
      settled = true;
      const lastCk = this.store.checkpoints.latest(r.runId)?.step ?? null;
      const intent = this.store.remote.get(r.runId)?.stopIntent ?? null;
      const facts = { slurm: slurm ?? null, end, stopIntent: intent, lastCheckpoint: lastCk, ref: r.ref };
      // Without an answer from Slurm only training's own end is decisive.
      if (slurm === undefined && end?.status !== 'completed' && end?.status !== 'failed') return;
      const s = remoteStatus(facts);
      if (this.store.remote.applyStatus(r.runId, s.status, s.reason)) changed = true;
      final = s.final && slurm !== undefined;
    };
    const file = join(run.runDir, DEFAULT_MESSAGES_FILE);
    const mapPath = folderMapper(target.runDir, run.runDir);
    let result;
    do {
      result = this.ingestor.ingest(r.runId, { file, mapPath, settle });
      for (const line of result.skipped) this.log(`run #${r.runId}: skipped ${line}`);
      if (result.restarted) this.log(`run #${r.runId}: ${file} was replaced; its messages are read again`);
      for (const msg of result.messages) for (const l of this.listeners) l(r.runId, msg);
      if (result.messages.length > 0) changed = true;
    } while (result.more);
    // No new messages: Slurm's news alone may change the status.
    if (!settled) this.store.writeTransaction(() => settle(this.store.remote.get(r.runId)!.attemptEnd));
    if (final) {
      this.store.remote.markFinal(r.runId);
      this.ingestor.forget(r.runId);
    }
    if (changed || final) this.statusChanged(r.runId);
  }

  private async send(target: RemoteTarget, tasks: ArrayTask[], jobName: string, maxParallel?: number): Promise<number> {
    const o = target.options;
    const script = renderArrayScript({
      sadpm: target.sadpm,
      storeInRunDir: NODE_STORE_DIR,
      env: { EGL_PLATFORM: 'surfaceless' },
      tasks,
      options: {
        jobName,
        partition: o.partition,
        account: o.account,
        timeLimit: o.time,
        gpus: o.gpus,
        gpuType: o.gpuType,
        cpusPerTask: o.cpusPerTask,
        memory: o.memory,
        maxParallel,
        logDir: target.logDir,
      },
    });
    const client = this.client(target);
    if (target.ssh === undefined) mkdirSync(target.logDir, { recursive: true });
    else {
      const res = await client.runner.run('mkdir', ['-p', '--', target.logDir]);
      if (res.code !== 0) throw new Error(`ssh ${target.ssh}: mkdir ${target.logDir} failed: ${res.stderr.trim()}`);
    }
    return (await client.submit(script)).jobId;
  }

  private client(t: Pick<RemoteTarget, 'ssh' | 'slurmConf'>): SlurmClient {
    return new SlurmClient(runnerFor(t, this.controlSettings()));
  }

  private controlSettings(): RunnerSettings {
    if (this.settings.sshControlDir === undefined && this.controlDir === null) {
      this.controlDir = mkdtempSync(join(tmpdir(), 'sadpm-ssh-'));
    }
    return { ...this.settings, sshControlDir: this.settings.sshControlDir ?? this.controlDir! };
  }

  private requireLive(runId: number): RemoteRunRecord {
    const r = this.store.remote.get(runId);
    if (!r) throw new RemoteRunConflict(`run #${runId} was not sent to Slurm`);
    if (r.final) {
      const status = this.store.runs.get(runId)?.status;
      throw new RemoteRunConflict(`run #${runId} is not in Slurm any more (it ended ${status})`);
    }
    return r;
  }

  private isMine(r: RemoteRunRecord): boolean {
    return r.owner?.pid === this.owner.pid && r.owner.start === this.owner.start;
  }

  private statusChanged(runId: number): void {
    for (const l of this.statusListeners) l(runId);
  }
}

/** The run's checkpoint retention as `sadpm train` flags, so the node prunes as the studio does. */
function retentionArgs(store: RunStore, runId: number): string[] {
  const p = store.runs.retention(runId);
  const out: string[] = [];
  if (p?.keepLast !== undefined) out.push('--keep-last', String(p.keepLast));
  if (p?.milestoneEvery !== undefined) out.push('--keep-every', String(p.milestoneEvery));
  if (p?.bestBy !== undefined) out.push('--keep-best', p.bestBy);
  return out;
}
