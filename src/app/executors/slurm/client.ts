/**
 * Slurm's commands as calls: submit a batch script, read job states, cancel, requeue. Runs them through a
 * CommandRunner (this machine or ssh), so the same calls reach a local or a remote cluster.
 */
import type { CommandRunner, RunResult } from './runner';
import {
  parseKeyValueJobs,
  parseSacct,
  parseSbatchParsable,
  parseSqueue,
  sacctArgs,
  squeueArgs,
  type SlurmJob,
} from './parse';

/**
 * A job ("12"), an array task ("12_3"), or a whole array job by its id. Name a task as ARRAY_TASK, never by its
 * own job id: the last task to start inherits the array's id, which scancel and scontrol read as every task.
 */
const JOB_REF = /^\d+(_\d+)?$/;

export class SlurmCommandError extends Error {
  constructor(
    readonly where: string,
    readonly command: string,
    readonly result: RunResult,
  ) {
    const stderr = result.stderr.trim().split('\n').slice(-3).join(' / ');
    const why = result.timedOut ? 'timed out' : `exit status ${result.code}${stderr ? `: ${stderr}` : ''}`;
    super(`${where}: ${command} failed (${why})`);
  }
}

export class SlurmClient {
  constructor(readonly runner: CommandRunner) {}

  /** Submits a batch script (given on stdin, so nothing has to be copied to the cluster first). */
  async submit(script: string, extraArgs: readonly string[] = []): Promise<{ jobId: number; cluster: string | null }> {
    const out = await this.ok('sbatch', ['--parsable', ...extraArgs], script);
    return parseSbatchParsable(out);
  }

  /**
   * The jobs' states from slurmctld: live ones, and finished ones for MinJobAge seconds (300 s by default).
   * Jobs Slurm no longer knows are simply absent; sacct (where the cluster keeps accounting) remembers them.
   */
  async jobs(refs: readonly string[]): Promise<SlurmJob[]> {
    refs.forEach(checkRef);
    if (refs.length === 0) return [];
    const res = await this.runner.run('squeue', squeueArgs(refs));
    // One unknown id alone makes squeue fail; with known ones beside it, it is skipped.
    if (res.code !== 0 && /Invalid job id specified/i.test(res.stderr)) return [];
    return parseSqueue(this.checked('squeue', res));
  }

  /** `scontrol show job -o REF`: the same facts and more (restarts, exit code), for one job or array. */
  async show(ref: string): Promise<SlurmJob[]> {
    checkRef(ref);
    const res = await this.runner.run('scontrol', ['show', 'job', '-o', ref]);
    if (res.code !== 0 && /Invalid job id specified/i.test(res.stderr)) return [];
    return parseKeyValueJobs(this.checked('scontrol show job', res));
  }

  /** Accounting records (needs slurmdbd on the cluster); one per job or task, the latest attempt's state. */
  async accounting(refs: readonly string[]): Promise<SlurmJob[]> {
    refs.forEach(checkRef);
    if (refs.length === 0) return [];
    return parseSacct(await this.ok('sacct', sacctArgs(refs)));
  }

  /** scancel: the job ends (CANCELLED); with `signal`, only that signal is sent (to the batch shell with batchOnly). */
  async cancel(ref: string, opts: { signal?: string; batchOnly?: boolean } = {}): Promise<void> {
    checkRef(ref);
    const args: string[] = [];
    if (opts.signal !== undefined) {
      if (!/^[A-Z0-9]+$/.test(opts.signal)) {
        throw new Error(`scancel signal: expected a name like TERM or USR1, got ${JSON.stringify(opts.signal)}`);
      }
      args.push(`--signal=${opts.signal}`);
    }
    if (opts.batchOnly) args.push('--batch');
    await this.ok('scancel', [...args, ref]);
  }

  /** scontrol requeue: a running task is killed and queued again (it resumes from its checkpoint). */
  async requeue(ref: string): Promise<void> {
    checkRef(ref);
    await this.ok('scontrol', ['requeue', ref]);
  }

  private async ok(command: string, args: readonly string[], input?: string): Promise<string> {
    return this.checked(command, await this.runner.run(command, args, { input }));
  }

  private checked(command: string, res: RunResult): string {
    if (res.code !== 0 || res.timedOut) throw new SlurmCommandError(this.runner.label, command, res);
    return res.stdout;
  }
}

function checkRef(ref: string): void {
  if (!JOB_REF.test(ref)) {
    throw new Error(`Slurm job: expected a job id like 12 or an array task like 12_3, got ${JSON.stringify(ref)}`);
  }
}
