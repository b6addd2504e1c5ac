/**
 * The readers of Slurm's output, against text captured from a real Slurm 22.05 cluster
 * (scripts/slurm/captureFixtures.ts; test/fixtures/slurm/manifest.json names the command behind each file).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  expandArrayTaskIds,
  parseExitCode,
  parseKeyValueJobs,
  parseKeyValues,
  parseSacct,
  parseSbatchParsable,
  parseSqueue,
  parseWaitStatus,
  sacctArgs,
  squeueArgs,
  type SlurmJob,
} from '../../../src/app/executors/slurm/parse';
import { shJoin } from '../../../src/app/executors/slurm/quote';

const DIR = join(import.meta.dirname, '../../fixtures/slurm');
const fixture = (f: string) => readFileSync(join(DIR, f), 'utf8');
const manifest = JSON.parse(fixture('manifest.json')) as { slurm: string; files: { file: string; command: string }[] };

/** ref -> [state, reason] for a compact comparison. */
function states(jobs: SlurmJob[]): Record<string, [string, string | null]> {
  return Object.fromEntries(jobs.map((j) => [j.ref, [j.state, j.reason]]));
}

describe('fixtures', () => {
  it('were captured from Slurm 22.05 with the squeue fields parseSqueue reads today', () => {
    expect(manifest.slurm).toMatch(/^slurm(-wlm)? 22\.05\./);
    const squeue = manifest.files.filter((f) => f.command.startsWith('squeue '));
    expect(squeue.length).toBeGreaterThan(5);
    // A changed field list must come with fixtures captured again (the job id differs per file).
    const anyJobs = (command: string) => command.replace(/--jobs=[\d,]+/, '--jobs=N');
    for (const f of squeue) expect(anyJobs(f.command)).toBe(shJoin(['squeue', ...squeueArgs(['N'])]));
    const sacct = manifest.files.filter((f) => f.command.startsWith('sacct '));
    expect(sacct.length).toBe(3);
    const sacctN = shJoin(['sacct', ...sacctArgs(['N'])]);
    for (const f of sacct) expect(anyJobs(f.command).replace('--duplicates ', '')).toBe(sacctN);
  });
});

describe('sacct --parsable2 (clusters with slurmdbd)', () => {
  it('the latest attempt of every job: who cancelled, exit code and signal, time limit, preemption, node fail', () => {
    const jobs = parseSacct(fixture('sacct-all.txt'));
    expect(Object.fromEntries(jobs.map((j) => [j.ref, j.state]))).toEqual({
      1: 'TIMEOUT',
      '2_0': 'CANCELLED',
      '2_1': 'CANCELLED',
      '2_2': 'CANCELLED',
      '2_3': 'CANCELLED',
      7: 'FAILED',
      8: 'FAILED',
      9: 'COMPLETED',
      10: 'CANCELLED',
      11: 'PREEMPTED',
      12: 'CANCELLED',
      13: 'NODE_FAIL',
    });
    expect(jobs.find((j) => j.ref === '2_1')).toMatchObject({
      jobId: 5,
      arrayJobId: 2,
      arrayTaskId: 1,
      restarts: null,
      cancelledBy: 0,
    });
    expect(jobs.find((j) => j.ref === '1')!.cancelledBy).toBeNull();
    expect(jobs.find((j) => j.ref === '7')!.exitCode).toEqual({ code: 3, signal: 0 });
    expect(jobs.find((j) => j.ref === '8')!.exitCode).toEqual({ code: 0, signal: 9 });
    // "None assigned": a requeued job cancelled while it waited.
    expect(jobs.find((j) => j.ref === '10')!.nodes).toBeNull();
  });

  it('--duplicates keeps every attempt: a requeued task appears as REQUEUED, then as what ended it', () => {
    const jobs = parseSacct(fixture('sacct-all-duplicates.txt'));
    expect(jobs.filter((j) => j.ref === '2_1').map((j) => j.state)).toEqual(['REQUEUED', 'CANCELLED']);
    expect(jobs.filter((j) => j.ref === '10').map((j) => j.state)).toEqual(['PREEMPTED', 'CANCELLED']);
    expect(parseSacct(fixture('sacct-array-cancel-requeue.txt')).find((j) => j.ref === '2_1')!.state).toBe('REQUEUED');
  });

  it('reads a pending array range and names a bad line', () => {
    const jobs = parseSacct('12_[3-5%2]|12|PENDING|JobArrayTaskLimit|0:0|Unknown|Unknown|None assigned\n');
    expect(jobs.map((j) => [j.ref, j.jobId, j.state, j.reason])).toEqual(
      [3, 4, 5].map((t) => [`12_${t}`, 12, 'PENDING', 'JobArrayTaskLimit']),
    );
    expect(() => parseSacct('12|12|RUNNING\n')).toThrow(/sacct output line 1: expected 8/);
    expect(() => parseSacct('12.batch|12|RUNNING|None|0:0|N/A|N/A|n\n')).toThrow(/unexpected JobID "12.batch"/);
  });
});

describe('squeue --Format', () => {
  it('an array with two tasks running and the rest pending behind its throttle: one entry per task', () => {
    const jobs = parseSqueue(fixture('squeue-array-running.txt'));
    expect(states(jobs)).toEqual({
      '2_0': ['RUNNING', null],
      '2_1': ['RUNNING', null],
      '2_2': ['PENDING', 'JobArrayTaskLimit'],
      '2_3': ['PENDING', 'JobArrayTaskLimit'],
    });
    const t0 = jobs.find((j) => j.ref === '2_0')!;
    expect(t0).toMatchObject({ jobId: 4, arrayJobId: 2, arrayTaskId: 0, restarts: 0, nodes: 'sadpm1' });
    expect(t0.startTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    // Tasks that have not started share the array's id.
    const pending = jobs.filter((j) => j.state === 'PENDING');
    expect(pending.map((j) => [j.jobId, j.startTime, j.nodes])).toEqual([
      [2, null, null],
      [2, null, null],
    ]);
  });

  it('a cancelled task (SIGTERM) and a requeued one (pending for its begin time, one restart)', () => {
    const jobs = parseSqueue(fixture('squeue-array-cancel-requeue.txt'));
    expect(states(jobs)).toMatchObject({ '2_0': ['CANCELLED', null], '2_1': ['PENDING', 'BeginTime'] });
    expect(jobs.find((j) => j.ref === '2_0')!.exitCode).toEqual({ code: 0, signal: 15 });
    expect(jobs.find((j) => j.ref === '2_1')).toMatchObject({ restarts: 1, endTime: null, nodes: null });
    const again = parseSqueue(fixture('squeue-array-requeued-running.txt'));
    expect(again.find((j) => j.ref === '2_1')).toMatchObject({ state: 'RUNNING', restarts: 1, jobId: 5 });
  });

  it('plain jobs: exit 3, killed by SIGKILL, completed; a time limit; a node failure; preemption', () => {
    const plain = parseSqueue(fixture('squeue-plain-finished.txt'));
    expect(plain.map((j) => [j.ref, j.arrayJobId, j.state, j.reason, j.exitCode])).toEqual([
      ['9', null, 'COMPLETED', null, { code: 0, signal: 0 }],
      ['7', null, 'FAILED', 'NonZeroExitCode', { code: 3, signal: 0 }],
      ['8', null, 'FAILED', 'JobLaunchFailure', { code: 0, signal: 9 }],
    ]);
    expect(states(parseSqueue(fixture('squeue-timeout.txt')))).toEqual({ 1: ['TIMEOUT', 'TimeLimit'] });
    expect(states(parseSqueue(fixture('squeue-node-fail.txt')))).toEqual({ 13: ['NODE_FAIL', 'NodeDown'] });
    const pre = parseSqueue(fixture('squeue-preempted.txt'));
    expect(states(pre)).toEqual({ 10: ['PENDING', 'BeginTime'], 11: ['PREEMPTED', null], 12: ['RUNNING', null] });
    expect(pre.find((j) => j.ref === '10')!.restarts).toBe(1);
  });

  it('unfolds a folded array line (squeue without --array folded a requeued task with unstarted ones)', () => {
    // Seen once from squeue without --array, right after `scancel 2_0; scontrol requeue 2_1`.
    const folded = parseSqueue('2_[1-3]|2|1-3|2|PENDING|Resources,None|0|0|N/A|N/A|                    \n');
    expect(folded.map((j) => [j.ref, j.jobId, j.state, j.reason])).toEqual(
      [1, 2, 3].map((t) => [`2_${t}`, 2, 'PENDING', 'Resources,None']),
    );
  });

  it('names the line and the fields when the output is not what it asked for', () => {
    expect(() => parseSqueue('2_0|2|0|RUNNING\n')).toThrow(
      /squeue output line 1: expected 11 '\|'-separated fields .* got 4: "2_0\|2\|0\|RUNNING"/,
    );
    expect(() => parseSqueue('x|2|0|y|RUNNING|None|0|0|N/A|N/A|\n')).toThrow(/JobID: expected a job id, got "y"/);
    expect(parseSqueue('\n')).toEqual([]);
  });
});

describe('scontrol show job -o and the jobcomp log (key=value lines)', () => {
  it('reads the same facts as squeue, with exit codes as code:signal', () => {
    const running = parseKeyValueJobs(fixture('scontrol-array-running.txt'));
    expect(states(running)).toEqual(states(parseSqueue(fixture('squeue-array-running.txt'))));
    const cr = parseKeyValueJobs(fixture('scontrol-array-cancel-requeue.txt'));
    expect(cr.find((j) => j.ref === '2_1')).toMatchObject({ state: 'PENDING', reason: 'BeginTime', restarts: 1 });
    expect(cr.find((j) => j.ref === '2_0')!.exitCode).toEqual({ code: 0, signal: 15 });
    const one = (f: string) => parseKeyValueJobs(fixture(f))[0]!;
    expect(one('scontrol-failed.txt')).toMatchObject({ ref: '7', state: 'FAILED', exitCode: { code: 3, signal: 0 } });
    expect(one('scontrol-killed.txt').exitCode).toEqual({ code: 0, signal: 9 });
    expect(one('scontrol-timeout.txt')).toMatchObject({ state: 'TIMEOUT', reason: 'TimeLimit' });
    expect(one('scontrol-node-fail.txt')).toMatchObject({ state: 'NODE_FAIL', reason: 'NodeDown' });
    expect(one('scontrol-preempted.txt')).toMatchObject({ state: 'PENDING', restarts: 1 });
  });

  it('the jobcomp log keeps every ending, a requeue included (as PENDING), long after squeue forgets', () => {
    const log = parseKeyValueJobs(fixture('jobcomp.txt'), 'jobcomp');
    const task1 = log.filter((j) => j.ref === '2_1').map((j) => j.state);
    expect(task1).toEqual(['PENDING', 'CANCELLED']);
    expect(log.filter((j) => j.state === 'PREEMPTED').map((j) => j.ref)).toEqual(['11', '10']);
    expect(log.find((j) => j.ref === '7')).toMatchObject({ state: 'FAILED', exitCode: { code: 3, signal: 0 } });
    expect(log.find((j) => j.ref === '7')!.reason).toBeNull();
  });

  it('values with blanks stay whole; the first of a repeated key wins', () => {
    const kv = parseKeyValues('JobId=5 WorkDir=/a b/c StdOut=/x y.out Power= Reason=None');
    expect(kv.get('WorkDir')).toBe('/a b/c');
    expect(kv.get('StdOut')).toBe('/x y.out');
    expect(kv.get('Power')).toBe('');
    expect(parseKeyValues('JobId=1 JobState=RUNNING JobState=FAILED').get('JobState')).toBe('RUNNING');
    expect(() => parseKeyValueJobs('JobState=RUNNING')).toThrow(/scontrol show job -o line 1: no JobId=/);
  });
});

describe('small formats', () => {
  it('sbatch --parsable', () => {
    expect(parseSbatchParsable(fixture('sbatch-parsable.txt'))).toEqual({ jobId: 3, cluster: null });
    expect(parseSbatchParsable('42;big\n')).toEqual({ jobId: 42, cluster: 'big' });
    expect(() => parseSbatchParsable('sbatch: error: Batch job submission failed')).toThrow(/expected "JOBID"/);
  });

  it('exit codes: squeue prints the wait status, scontrol and sacct code:signal', () => {
    expect(parseWaitStatus('768')).toEqual({ code: 3, signal: 0 });
    expect(parseWaitStatus('15')).toEqual({ code: 0, signal: 15 });
    expect(parseWaitStatus('')).toBeNull();
    expect(parseExitCode('0:9')).toEqual({ code: 0, signal: 9 });
    expect(parseExitCode('N/A')).toBeNull();
  });

  it('array task ranges, with steps and the throttle', () => {
    expect(expandArrayTaskIds('2-3%2')).toEqual([2, 3]);
    expect(expandArrayTaskIds('1,4-6')).toEqual([1, 4, 5, 6]);
    expect(expandArrayTaskIds('0-9:4')).toEqual([0, 4, 8]);
    expect(() => expandArrayTaskIds('5-2')).toThrow(/bad range/);
    expect(() => expandArrayTaskIds('a')).toThrow(/expected N, N-M/);
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(5000), { minLength: 1, maxLength: 30 }), (ids) => {
        const sorted = [...ids].sort((a, b) => a - b);
        expect(expandArrayTaskIds(sorted.join(','))).toEqual(sorted);
      }),
    );
  });
});
