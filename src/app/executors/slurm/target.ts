/**
 * Where a remote run lives: the cluster (this machine's Slurm, or a login node over ssh), the run's folder as
 * the cluster sees it, and how its task was asked for — kept with the run (remote_runs.target) so a resume
 * can send it again the same way, and a restarted studio can follow it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { SlurmOptionsSchema } from '../../../shared/sweep';
import { localRunner, sshRunner, type CommandRunner, type SshRunnerOptions } from './runner';

export const RemoteTargetSchema = z.object({
  /** The login node (host or ssh config alias); absent: Slurm's commands run on this machine. */
  ssh: z.string().optional(),
  /** The cluster's slurm.conf, where it is not Slurm's default (here, or on the login node). */
  slurmConf: z.string().optional(),
  /** The run's folder on the cluster's shared filesystem (this machine's own path without ssh). */
  runDir: z.string(),
  /** Where Slurm writes the tasks' stdout/stderr (slurm-<job>_<task>.out/.err). */
  logDir: z.string(),
  /** How a compute node starts sadpm. */
  sadpm: z.array(z.string()).min(1),
  options: SlurmOptionsSchema.pick({
    partition: true,
    account: true,
    time: true,
    gpus: true,
    gpuType: true,
    cpusPerTask: true,
    memory: true,
  }),
});
export type RemoteTarget = z.infer<typeof RemoteTargetSchema>;

/** The subfolder of a run folder that holds the compute node's own run store (sbatchScript storeInRunDir). */
export const NODE_STORE_DIR = '.sadpm-node';

export function parseTarget(raw: unknown, runId: number): RemoteTarget {
  const r = RemoteTargetSchema.safeParse(raw);
  if (!r.success) throw new Error(`run #${runId}: its Slurm target in the store is malformed: ${r.error.message}`);
  return r.data;
}

export interface RunnerSettings {
  /** The ssh program (tests use a stand-in). */
  sshProgram?: string;
  /** A private folder for ssh's control sockets: one connection serves the frequent polls. */
  sshControlDir?: string;
}

/** What runs Slurm's commands for a target. */
export function runnerFor(t: Pick<RemoteTarget, 'ssh' | 'slurmConf'>, s: RunnerSettings = {}): CommandRunner {
  if (t.ssh === undefined) return localRunner({ slurmConf: t.slurmConf });
  return sshRunner(sshSettings(t, s));
}

export function sshSettings(t: Pick<RemoteTarget, 'ssh' | 'slurmConf'>, s: RunnerSettings = {}): SshRunnerOptions {
  return {
    host: t.ssh!,
    ssh: s.sshProgram,
    controlDir: s.sshControlDir,
    remoteEnv: t.slurmConf !== undefined ? { SLURM_CONF: t.slurmConf } : undefined,
  };
}

/** Targets sharing a runner (and so one squeue call per poll). */
export function targetKey(t: Pick<RemoteTarget, 'ssh' | 'slurmConf'>): string {
  return JSON.stringify([t.ssh ?? null, t.slurmConf ?? null]);
}

/**
 * This installation's sadpm for a compute node of this machine's own cluster: Node and the repository's
 * bin/sadpm.mjs (the nodes share this filesystem). Under Electron, `node` from PATH.
 */
export function localSadpmCommand(from = import.meta.dirname): string[] | null {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const bin = join(dir, 'bin', 'sadpm.mjs');
    if (existsSync(bin)) return [process.versions.electron ? 'node' : process.execPath, bin];
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}
