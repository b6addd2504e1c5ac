/**
 * Captures what Slurm's commands print in the situations the studio must read (running and pending array tasks,
 * cancel, requeue, failure, a signal, preemption, a node failure, a time limit) from a private test cluster,
 * into test/fixtures/slurm/, with manifest.json naming the command behind each file. The cluster runs with
 * accounting (slurmdbd + MariaDB), so sacct's view is captured too.
 *
 *   node --import tsx scripts/slurm/captureFixtures.ts        (about two minutes: a time limit is one minute)
 *
 * The parsers' tests read these files; rerun this after a Slurm upgrade and look at what changed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestCluster } from './testCluster';
import { localRunner, type CommandRunner } from '../../src/app/executors/slurm/runner';
import { shJoin } from '../../src/app/executors/slurm/quote';
import {
  sacctArgs,
  squeueArgs,
  parseSqueue,
  parseSbatchParsable,
  type SlurmJob,
} from '../../src/app/executors/slurm/parse';

const OUT = resolve(import.meta.dirname, '../../test/fixtures/slurm');

interface Entry {
  file: string;
  scenario: string;
  command: string;
  stream: 'stdout' | 'stderr';
  exitCode: number | null;
}

const manifest: Entry[] = [];
let runner: CommandRunner;

async function capture(file: string, scenario: string, argv: string[], stream: 'stdout' | 'stderr' = 'stdout') {
  const [command, ...args] = argv as [string, ...string[]];
  const res = await runner.run(command, args);
  writeFileSync(join(OUT, file), stream === 'stdout' ? res.stdout : res.stderr);
  manifest.push({ file, scenario, command: shJoin(argv), stream, exitCode: res.code });
}

const squeue = (file: string, scenario: string, ids: number[]) =>
  capture(file, scenario, ['squeue', ...squeueArgs(ids.map(String))]);
const scontrol = (file: string, scenario: string, id: number) =>
  capture(file, scenario, ['scontrol', 'show', 'job', '-o', String(id)]);

async function sbatch(args: string[], script: string): Promise<number> {
  const res = await runner.run('sbatch', ['--parsable', '--output=/dev/null', ...args], { input: script });
  if (res.code !== 0) throw new Error(`sbatch ${args.join(' ')}: ${res.stderr}`);
  return parseSbatchParsable(res.stdout).jobId;
}

type StateOf = (ref: string | number) => string | undefined;
const isIn = (states: string[], s: string | undefined) => s !== undefined && states.includes(s);

/** Polls squeue for these jobs until `ok` holds for them. */
async function until(what: string, ids: number[], ok: (state: StateOf) => boolean, timeoutS = 60) {
  const end = Date.now() + timeoutS * 1000;
  let jobs: SlurmJob[] = [];
  while (Date.now() < end) {
    const res = await runner.run('squeue', squeueArgs(ids.map(String)));
    jobs = res.code === 0 ? parseSqueue(res.stdout) : [];
    if (ok((ref) => jobs.find((j) => j.ref === String(ref))?.state)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(jobs)}`);
}

const sleeper = '#!/bin/bash\nsleep 300\n';

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'sadpm-slurm-capture-'));
  mkdirSync(OUT, { recursive: true });
  // Four CPUs (one node, config_overrides): a one-minute time limit runs beside the two-at-a-time array.
  const cluster = await startTestCluster(join(tmp, 'cluster'), { cpus: 4, accounting: true });
  runner = localRunner({ slurmConf: cluster.slurmConf });
  try {
    const cpu1 = '--cpus-per-task=1';
    const timeout = await sbatch([cpu1, '--time=1', '--job-name=fx-timeout'], sleeper);

    const array = await sbatch([cpu1, '--array=0-3%2', '--job-name=fx-array'], sleeper);
    await capture('sbatch-parsable.txt', 'sbatch --parsable of a plain job', [
      'sbatch',
      '--parsable',
      '--wrap=true',
      '--output=/dev/null',
    ]);
    const a = (t: number) => `${array}_${t}`;
    await until('two array tasks running', [array], (s) => s(a(0)) === 'RUNNING' && s(a(1)) === 'RUNNING');
    await squeue('squeue-array-running.txt', 'array 0-3%2: tasks 0 and 1 running, 2-3 pending (throttle)', [array]);
    await scontrol('scontrol-array-running.txt', 'the same, from scontrol', array);

    await runner.run('scancel', [a(0)]);
    await runner.run('scontrol', ['requeue', a(1)]);
    await until('task 0 cancelled, task 1 requeued', [array], (s) => s(a(0)) === 'CANCELLED' && s(a(1)) === 'PENDING');
    const cancelRequeue = 'task 0 cancelled (scancel), task 1 requeued (scontrol requeue)';
    await squeue('squeue-array-cancel-requeue.txt', cancelRequeue, [array]);
    await scontrol('scontrol-array-cancel-requeue.txt', 'the same, from scontrol', array);
    await capture('sacct-array-cancel-requeue.txt', 'the same, from sacct', ['sacct', ...sacctArgs([String(array)])]);
    // Tasks 2 and 3 took the two slots; cancelling 3 gives one back to the requeued task.
    await runner.run('scancel', [a(3)]);
    await until('requeued task 1 running again', [array], (s) => s(a(1)) === 'RUNNING', 30);
    await squeue('squeue-array-requeued-running.txt', 'task 1 running again after its requeue', [array]);

    const failed = await sbatch([cpu1, '--job-name=fx-exit3'], '#!/bin/bash\nexit 3\n');
    const killed = await sbatch([cpu1, '--job-name=fx-kill9'], '#!/bin/bash\nkill -9 $$\n');
    const done = await sbatch([cpu1, '--job-name=fx-ok'], '#!/bin/bash\ntrue\n');
    const plain = [failed, killed, done];
    const ended = (s: StateOf) => plain.every((id) => isIn(['FAILED', 'COMPLETED'], s(id)));
    await until('exit 3, kill -9 and true to finish', plain, ended);
    const what = `plain jobs: ${failed} exits 3, ${killed} kills itself (SIGKILL), ${done} completes`;
    await squeue('squeue-plain-finished.txt', what, plain);
    await scontrol('scontrol-failed.txt', `job ${failed} exited 3`, failed);
    await scontrol('scontrol-killed.txt', `job ${killed} killed by SIGKILL`, killed);

    await runner.run('scancel', [String(array)]);
    const tasksEnded = (s: StateOf) => [0, 1, 2, 3].every((t) => isIn(['CANCELLED', 'COMPLETED'], s(a(t))));
    await until('the array to end', [array], tasksEnded);
    await until('the time limit', [timeout], (s) => s(timeout) === 'TIMEOUT', 120);
    await squeue('squeue-timeout.txt', `job ${timeout}: --time=1, killed at its time limit`, [timeout]);
    await scontrol('scontrol-timeout.txt', 'the same, from scontrol', timeout);

    // Preemption: 'urgent' outranks 'debug'; a requeueable job goes back to the queue, another is cancelled.
    const victim = await sbatch(['--cpus-per-task=2', '--requeue', '--job-name=fx-victim'], sleeper);
    const victimNoRq = await sbatch(['--cpus-per-task=2', '--no-requeue', '--job-name=fx-victim-norq'], sleeper);
    const both = [victim, victimNoRq];
    await until('both victims running', both, (s) => both.every((id) => s(id) === 'RUNNING'));
    const urgent = await sbatch(['--cpus-per-task=4', '--partition=urgent', '--job-name=fx-urgent'], sleeper);
    const three = [victim, victimNoRq, urgent];
    const preemptedBoth = (s: StateOf) => s(urgent) === 'RUNNING' && s(victimNoRq) === 'PREEMPTED';
    await until('the urgent job to preempt both', three, preemptedBoth);
    const preempted = `${victim} (--requeue) and ${victimNoRq} (--no-requeue) preempted by ${urgent} (in urgent)`;
    await squeue('squeue-preempted.txt', preempted, three);
    await scontrol('scontrol-preempted.txt', `the requeued victim ${victim}, from scontrol`, victim);
    await runner.run('scancel', three.map(String));
    const allEnded = (s: StateOf) => three.every((id) => !isIn(['RUNNING', 'COMPLETING', 'PENDING'], s(id)));
    await until('preemption jobs to end', three, allEnded);

    // A node failure: the node is set DOWN under a running job that may not be requeued.
    const nf = await sbatch([cpu1, '--no-requeue', '--job-name=fx-nodefail'], sleeper);
    await until('the node-fail job running', [nf], (s) => s(nf) === 'RUNNING');
    await runner.run('scontrol', ['update', 'NodeName=sadpm1', 'State=DOWN', 'Reason=fixture']);
    await until('NODE_FAIL', [nf], (s) => s(nf) === 'NODE_FAIL');
    await squeue('squeue-node-fail.txt', `job ${nf} on a node set DOWN (--no-requeue)`, [nf]);
    await scontrol('scontrol-node-fail.txt', 'the same, from scontrol', nf);
    await runner.run('scontrol', ['update', 'NodeName=sadpm1', 'State=RESUME']);

    const all = [timeout, array, failed, killed, done, victim, victimNoRq, urgent, nf].map(String);
    await capture('sacct-all.txt', 'every job above, from sacct: the latest attempt of each', [
      'sacct',
      ...sacctArgs(all),
    ]);
    await capture('sacct-all-duplicates.txt', 'the same with --duplicates: every attempt of a requeued job', [
      'sacct',
      '--duplicates',
      ...sacctArgs(all),
    ]);
    await capture(
      'squeue-unknown-job.txt',
      'squeue for a job id slurmctld does not know',
      ['squeue', ...squeueArgs(['999999'])],
      'stderr',
    );
    writeFileSync(join(OUT, 'jobcomp.txt'), readFileSync(cluster.jobCompLog, 'utf8'));
    const jobcomp = 'the job completion log (JobCompType=jobcomp/filetxt) after all of the above';
    manifest.push({ file: 'jobcomp.txt', scenario: jobcomp, command: 'cat JobCompLoc', stream: 'stdout', exitCode: 0 });
    const version = (await runner.run('sinfo', ['--version'])).stdout.trim();
    writeFileSync(join(OUT, 'manifest.json'), JSON.stringify({ slurm: version, files: manifest }, null, 2) + '\n');
    console.log(`wrote ${manifest.length} fixtures to ${OUT}`);
  } finally {
    await cluster.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
