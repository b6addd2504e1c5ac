/**
 * A Slurm run's status from Slurm's state and the run's own messages (issue 16), with states taken through
 * mapSlurmJob from the squeue/scontrol output captured on the test cluster (test/fixtures/slurm).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKeyValueJobs, parseSacct, parseSqueue, type SlurmJob } from '../../../src/app/executors/slurm/parse';
import { remoteStatus, type RemoteFacts } from '../../../src/app/executors/slurm/remoteStatus';
import { mapSlurmJob, mapSlurmState } from '../../../src/app/executors/slurm/states';

const fixture = (f: string) => readFileSync(join(__dirname, '../../fixtures/slurm', f), 'utf8');
const slurmOf = (j: SlurmJob) => ({ ...mapSlurmJob(j), state: j.state });
const facts = (over: Partial<RemoteFacts>): RemoteFacts => ({
  slurm: null,
  end: null,
  stopIntent: null,
  lastCheckpoint: 20,
  ref: '7_1',
  ...over,
});

describe('remoteStatus', () => {
  it("training's own end decides: completed or failed, final once Slurm has ended the task", () => {
    const running = { ...mapSlurmState('RUNNING'), state: 'RUNNING' };
    const done = { ...mapSlurmState('COMPLETED'), state: 'COMPLETED' };
    expect(remoteStatus(facts({ slurm: running, end: { status: 'completed', reason: null } }))).toEqual({
      status: 'completed',
      reason: null,
      final: false,
    });
    expect(remoteStatus(facts({ slurm: done, end: { status: 'completed', reason: null } })).final).toBe(true);
    const failed = { ...mapSlurmState('FAILED', 'NonZeroExitCode', { code: 1, signal: 0 }), state: 'FAILED' };
    expect(remoteStatus(facts({ slurm: failed, end: { status: 'failed', reason: 'NaN loss at step 5' } }))).toEqual({
      status: 'failed',
      reason: 'NaN loss at step 5',
      final: true,
    });
  });

  it('a requeued task whose engine stopped is queued again (squeue after scontrol requeue), not stopped', () => {
    const requeued = parseSqueue(fixture('squeue-array-cancel-requeue.txt')).find(
      (j) => j.state === 'PENDING' && (j.restarts ?? 0) > 0,
    );
    expect(requeued).toBeDefined();
    const s = remoteStatus(facts({ slurm: slurmOf(requeued!), end: { status: 'stopped', reason: null } }));
    expect(s).toMatchObject({ status: 'queued', final: false });
    expect(s.reason).toContain('BeginTime');
  });

  it("cancelled: stopped with the reason, the studio's own cancel told from someone else's", () => {
    const jobs = parseKeyValueJobs(fixture('scontrol-array-cancel-requeue.txt'));
    const cancelled = jobs.find((j) => j.state === 'CANCELLED');
    expect(cancelled).toBeDefined();
    const theirs = remoteStatus(facts({ slurm: slurmOf(cancelled!), end: { status: 'stopped', reason: null } }));
    expect(theirs).toMatchObject({ status: 'stopped', final: true });
    expect(theirs.reason).toMatch(/^cancelled.* in Slurm \(7_1\); resume continues from step 20$/);
    const ours = remoteStatus(facts({ slurm: slurmOf(cancelled!), stopIntent: 'paused' }));
    expect(ours).toEqual({
      status: 'paused',
      reason: 'cancelled from the studio (scancel 7_1); resume continues from step 20',
      final: true,
    });
  });

  it('time limit and preemption end interrupted (resumable), saying where a resume continues', () => {
    const preempted = parseSacct(fixture('sacct-all.txt')).find((j) => j.state === 'PREEMPTED');
    expect(preempted).toBeDefined();
    const p = remoteStatus(facts({ slurm: slurmOf(preempted!), end: { status: 'stopped', reason: null } }));
    expect(p).toEqual({ status: 'interrupted', reason: 'preempted; resume continues from step 20', final: true });
    // A preempted job that may be requeued (the default) is simply pending again.
    const requeued = parseKeyValueJobs(fixture('scontrol-preempted.txt'))[0]!;
    expect(remoteStatus(facts({ slurm: slurmOf(requeued) }))).toMatchObject({ status: 'queued', final: false });
    for (const f of ['scontrol-timeout.txt', 'scontrol-node-fail.txt']) {
      const job = parseKeyValueJobs(fixture(f))[0]!;
      const s = remoteStatus(facts({ slurm: slurmOf(job), end: { status: 'stopped', reason: null } }));
      expect(s, f).toMatchObject({ status: 'interrupted', final: true });
      expect(s.reason, f).toMatch(/; resume continues from step 20$/);
    }
    expect(
      remoteStatus(facts({ slurm: { ...mapSlurmState('TIMEOUT'), state: 'TIMEOUT' }, lastCheckpoint: null })).reason,
    ).toBe('time limit reached; no checkpoint was written yet');
  });

  it('a task that exited 0 without training saying it completed was cut short: interrupted', () => {
    const s = remoteStatus(facts({ slurm: { ...mapSlurmState('COMPLETED'), state: 'COMPLETED' } }));
    expect(s).toMatchObject({ status: 'interrupted', final: true });
  });

  it('pending and running follow Slurm, with its reason (max-parallel)', () => {
    const pending = { ...mapSlurmState('PENDING', 'JobArrayTaskLimit'), state: 'PENDING' };
    expect(remoteStatus(facts({ slurm: pending }))).toMatchObject({ status: 'queued', final: false });
    expect(remoteStatus(facts({ slurm: pending })).reason).toContain('max-parallel');
  });

  it('a job Slurm forgot: the messages decide (stopped), or interrupted when they end without a finish', () => {
    expect(remoteStatus(facts({ end: { status: 'stopped', reason: null } }))).toEqual({
      status: 'stopped',
      reason: null,
      final: true,
    });
    const cut = remoteStatus(facts({}));
    expect(cut).toMatchObject({ status: 'interrupted', final: true });
    expect(cut.reason).toContain('Slurm no longer knows task 7_1');
  });
});
