/**
 * SlurmClient: which commands it runs for each call, and how it reads their answers (captured Slurm output from
 * test/fixtures/slurm). A recording runner stands in for the machine; the integration test uses a real cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlurmClient, SlurmCommandError } from '../../../src/app/executors/slurm/client';
import { squeueArgs, sacctArgs } from '../../../src/app/executors/slurm/parse';
import type { CommandRunner, RunOptions, RunResult } from '../../../src/app/executors/slurm/runner';

const fixture = (f: string) => readFileSync(join(import.meta.dirname, '../../fixtures/slurm', f), 'utf8');

function recorder(answer: (command: string, args: readonly string[]) => Partial<RunResult>) {
  const calls: { command: string; args: readonly string[]; opts?: RunOptions }[] = [];
  const runner: CommandRunner = {
    label: 'ssh login1',
    run: async (command, args, opts) => {
      calls.push({ command, args, opts });
      return { stdout: '', stderr: '', code: 0, timedOut: false, ...answer(command, args) };
    },
  };
  return { client: new SlurmClient(runner), calls };
}

describe('SlurmClient', () => {
  it('submits the script on stdin with --parsable and reads the job id', async () => {
    const { client, calls } = recorder(() => ({ stdout: fixture('sbatch-parsable.txt') }));
    expect(await client.submit('#!/bin/bash\ntrue\n', ['--hold'])).toEqual({ jobId: 3, cluster: null });
    expect(calls).toEqual([
      { command: 'sbatch', args: ['--parsable', '--hold'], opts: { input: '#!/bin/bash\ntrue\n' } },
    ]);
  });

  it('reads job states with squeue, and treats an id slurmctld forgot as no jobs', async () => {
    const { client, calls } = recorder((_c, args) =>
      args.includes('--jobs=999999')
        ? { code: 1, stderr: fixture('squeue-unknown-job.txt') }
        : { stdout: fixture('squeue-array-running.txt') },
    );
    expect((await client.jobs(['2'])).map((j) => j.ref)).toEqual(['2_2', '2_3', '2_1', '2_0']);
    expect(calls[0]).toMatchObject({ command: 'squeue', args: squeueArgs(['2']) });
    expect(await client.jobs(['999999'])).toEqual([]);
    expect(await client.jobs([])).toEqual([]);
    expect(calls).toHaveLength(2);
  });

  it('reads accounting with sacct', async () => {
    const { client, calls } = recorder(() => ({ stdout: fixture('sacct-all.txt') }));
    expect((await client.accounting(['1', '2'])).length).toBe(12);
    expect(calls[0]).toMatchObject({ command: 'sacct', args: sacctArgs(['1', '2']) });
  });

  it('cancels, signals the batch shell, requeues', async () => {
    const { client, calls } = recorder(() => ({}));
    await client.cancel('12_3');
    await client.cancel('12_3', { signal: 'TERM', batchOnly: true });
    await client.requeue('12_3');
    expect(calls.map((c) => [c.command, ...c.args])).toEqual([
      ['scancel', '12_3'],
      ['scancel', '--signal=TERM', '--batch', '12_3'],
      ['scontrol', 'requeue', '12_3'],
    ]);
  });

  it("refuses job refs and signals that are not Slurm's, before running anything", async () => {
    const { client, calls } = recorder(() => ({}));
    await expect(client.cancel('12; rm -rf ~')).rejects.toThrow(/expected a job id like 12 or an array task like 12_3/);
    await expect(client.jobs(['-u root'])).rejects.toThrow(/expected a job id/);
    await expect(client.cancel('12', { signal: 'TERM; x' })).rejects.toThrow(/scancel signal/);
    expect(calls).toEqual([]);
  });

  it("a failing command is an error naming where, what, the status and stderr's last lines", async () => {
    const stderr = 'sbatch: error: Batch job submission failed: Invalid account\n';
    const { client } = recorder(() => ({ code: 1, stderr }));
    const err = await client.submit('#!/bin/bash\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlurmCommandError);
    expect((err as Error).message).toBe(`ssh login1: sbatch failed (exit status 1: ${stderr.trim()})`);
    const slow = recorder(() => ({ code: null, timedOut: true }));
    await expect(slow.client.requeue('1')).rejects.toThrow('ssh login1: scontrol failed (timed out)');
  });
});
