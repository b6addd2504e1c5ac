/**
 * Slurm states and reasons -> the studio's run statuses, on the states captured from a real cluster
 * (test/fixtures/slurm) and on the full list of Slurm 22.05's job states.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_STATUSES } from '../../../src/shared/records';
import { parseKeyValueJobs, parseSacct, parseSqueue } from '../../../src/app/executors/slurm/parse';
import { describeReason, mapSlurmJob, mapSlurmState, SLURM_STATES } from '../../../src/app/executors/slurm/states';

const DIR = join(import.meta.dirname, '../../fixtures/slurm');
const squeue = (f: string) => parseSqueue(readFileSync(join(DIR, f), 'utf8'));
const map = (f: string) => Object.fromEntries(squeue(f).map((j) => [j.ref, mapSlurmJob(j)]));

describe('captured jobs', () => {
  it('an array: running, waiting for its max-parallel slot, cancelled (stopped), requeued (queued again)', () => {
    const running = map('squeue-array-running.txt');
    expect(running['2_0']).toEqual({ status: 'running', final: false, reason: null });
    expect(running['2_2']).toEqual({
      status: 'queued',
      final: false,
      reason: "pending: waiting for a slot: the sweep's max-parallel limit is reached (JobArrayTaskLimit)",
    });
    const cr = map('squeue-array-cancel-requeue.txt');
    expect(cr['2_0']).toEqual({ status: 'stopped', final: true, reason: 'cancelled' });
    expect(cr['2_1']).toMatchObject({ status: 'queued', final: false });
    expect(cr['2_1']!.reason).toMatch(/^pending: waiting for its start time .*\(BeginTime\)$/);
  });

  it('failures carry the exit code or signal; time limit, preemption, node failure are resumable (interrupted)', () => {
    const plain = map('squeue-plain-finished.txt');
    expect(plain['9']).toEqual({ status: 'completed', final: true, reason: null });
    const exit3 = 'failed: the task exited with an error (NonZeroExitCode); exit code 3';
    expect(plain['7']).toEqual({ status: 'failed', final: true, reason: exit3 });
    expect(plain['8']!.reason).toMatch(/^failed: .*\(JobLaunchFailure\); killed by signal 9$/);
    const timeout = map('squeue-timeout.txt')['1'];
    expect(timeout).toEqual({ status: 'interrupted', final: true, reason: 'time limit reached' });
    expect(map('squeue-node-fail.txt')['13']).toEqual({
      status: 'interrupted',
      final: true,
      reason: 'its node failed: a node it used went down (NodeDown)',
    });
    const pre = map('squeue-preempted.txt');
    expect(pre['11']).toEqual({ status: 'interrupted', final: true, reason: 'preempted' });
    expect(pre['10']!.status).toBe('queued');
  });

  it('sacct: who cancelled; a pending reason Slurm left on a task that has since ended is not repeated', () => {
    const jobs = parseSacct(readFileSync(join(DIR, 'sacct-all.txt'), 'utf8'));
    const m = (ref: string) => mapSlurmJob(jobs.find((x) => x.ref === ref)!);
    expect(jobs.find((j) => j.ref === '2_2')!.reason).toBe('JobArrayTaskLimit');
    expect(m('2_2')).toEqual({ status: 'stopped', final: true, reason: 'cancelled by uid 0' });
    expect(m('7')).toEqual({ status: 'failed', final: true, reason: 'failed: exit code 3' });
    expect(m('8')).toEqual({ status: 'failed', final: true, reason: 'failed: killed by signal 9' });
    expect(m('1').status).toBe('interrupted');
  });

  it('every state in the captured output maps, in squeue, the jobcomp log and sacct', () => {
    const files = ['array-running', 'array-cancel-requeue', 'plain-finished', 'preempted'].map(
      (f) => `squeue-${f}.txt`,
    );
    const text = (f: string) => readFileSync(join(DIR, f), 'utf8');
    const jobs = [
      ...files.flatMap(squeue),
      ...parseKeyValueJobs(text('jobcomp.txt'), 'jobcomp'),
      ...parseSacct(text('sacct-all-duplicates.txt')),
    ];
    for (const j of jobs) expect(RUN_STATUSES).toContain(mapSlurmJob(j).status);
  });
});

describe('the table', () => {
  it.each([
    ['PENDING', 'queued'],
    ['CONFIGURING', 'queued'],
    ['REQUEUED', 'queued'],
    ['REQUEUE_HOLD', 'queued'],
    ['RUNNING', 'running'],
    ['COMPLETING', 'running'],
    ['SUSPENDED', 'paused'],
    ['COMPLETED', 'completed'],
    ['CANCELLED', 'stopped'],
    ['FAILED', 'failed'],
    ['OUT_OF_MEMORY', 'failed'],
    ['BOOT_FAIL', 'failed'],
    ['DEADLINE', 'failed'],
    ['TIMEOUT', 'interrupted'],
    ['PREEMPTED', 'interrupted'],
    ['NODE_FAIL', 'interrupted'],
  ])('%s -> %s', (state, status) => {
    expect(mapSlurmState(state).status).toBe(status);
  });

  it("reads squeue's compact codes, sacct's 'CANCELLED by UID' and its '+' suffix", () => {
    expect(mapSlurmState('PD', 'Priority')).toEqual({
      status: 'queued',
      final: false,
      reason: 'pending: waiting behind higher-priority jobs (Priority)',
    });
    expect(mapSlurmState('CA').status).toBe('stopped');
    expect(mapSlurmState('OOM').status).toBe('failed');
    const byUser = mapSlurmState('CANCELLED by 1000');
    expect(byUser).toEqual({ status: 'stopped', final: true, reason: 'cancelled by uid 1000' });
    expect(mapSlurmState('CANCELLED+').status).toBe('stopped');
  });

  it('only running and completed tasks go without a reason; only finished states are final', () => {
    for (const s of SLURM_STATES) {
      const m = mapSlurmState(s);
      expect(RUN_STATUSES).toContain(m.status);
      expect(m.reason === null).toBe(s === 'RUNNING' || s === 'COMPLETED');
      expect(m.final).toBe(['completed', 'stopped', 'failed', 'interrupted'].includes(m.status));
    }
  });

  it('an unknown state is an error naming it, not a guess', () => {
    expect(() => mapSlurmState('LIMBO')).toThrow(/Slurm state "LIMBO": not one this studio knows/);
  });

  it('reasons: known ones in words with the code, account limits grouped, others verbatim', () => {
    expect(describeReason('Resources')).toBe('waiting for resources (Resources)');
    const nodes = 'ReqNodeNotAvail, UnavailableNodes:gpu[1-2]';
    expect(describeReason(nodes)).toBe(`a node it needs is not available (${nodes})`);
    expect(describeReason('QOSMaxGRESPerUser')).toBe('a limit of its account or QOS is reached (QOSMaxGRESPerUser)');
    expect(describeReason('SomethingNew')).toBe('SomethingNew');
  });
});
