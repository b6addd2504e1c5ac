/**
 * A real Slurm cluster (scripts/slurm/test-cluster.sh: munge, slurmctld, slurmd on 127.0.0.1, all state in a
 * temp folder) runs a 2-task array job written by renderArrayScript. A small shell script stands in for sadpm:
 * it creates its run folder's config.json on `train`, writes a line per start, and on TERM writes a
 * "checkpoint" line and exits like sadpm. The test follows the tasks through squeue and the status mapping:
 * one waits behind max-parallel, one is cancelled (stopped, not requeued), one is requeued by `scontrol requeue`
 * and then by its own TERM trap (the time-limit warning), resuming each time. Nothing is left running.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingSlurm, startTestCluster, type TestCluster } from '../../../scripts/slurm/testCluster';
import { SlurmClient } from '../../../src/app/executors/slurm/client';
import { localRunner } from '../../../src/app/executors/slurm/runner';
import { renderArrayScript } from '../../../src/app/executors/slurm/sbatchScript';
import { mapSlurmJob } from '../../../src/app/executors/slurm/states';
import type { SlurmJob } from '../../../src/app/executors/slurm/parse';
import type { RunStatus } from '../../../src/shared/records';

const missing = missingSlurm();
if (missing) console.warn(`skipping the Slurm cluster test: ${missing}`);

const FAKE_SADPM = `#!/bin/bash
# Stands in for sadpm on the compute node: train creates the run, resume continues it; TERM checkpoints and exits.
cmd=$1; shift
while [ $# -gt 0 ]; do [ "$1" = --run-dir ] && run_dir=$2; shift; done
[ "$cmd" = train ] && echo '{}' > "$run_dir/config.json"
trap 'echo "{\\"event\\":\\"checkpoint\\"}"; exit 130' TERM
echo "{\\"event\\":\\"$cmd\\",\\"restart\\":\${SLURM_RESTART_COUNT:-0}}"
while :; do sleep 0.2; done
`;

describe.skipIf(missing !== null)('a sweep on a one-node Slurm cluster', () => {
  let tmp: string;
  let cluster: TestCluster;
  let client: SlurmClient;
  const t0 = Date.now();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'sadpm-slurm-it-'));
    // Two CPUs whatever the machine: both tasks fit at once (slurmd accepts the declared count).
    cluster = await startTestCluster(join(tmp, 'cluster'), { cpus: 2 });
    console.log(`cluster up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    client = new SlurmClient(localRunner({ slurmConf: cluster.slurmConf }));
  });

  afterAll(async () => {
    await cluster?.stop();
    if (tmp) {
      const left = processesOf(join(tmp, 'cluster'));
      rmSync(tmp, { recursive: true, force: true });
      expect(left).toEqual([]);
    }
  });

  it('queued behind max-parallel, running, cancelled, requeued twice (scontrol, its TERM trap), resumed', async () => {
    // Folder names a shell or sbatch's directive parser would trip on.
    const runs = join(tmp, `runs of "λ" $HOME \`x\``);
    const runDirs = [join(runs, "it's run 0"), join(runs, 'run 1 (100%)')];
    const fake = join(tmp, 'fake sadpm.sh');
    writeFileSync(fake, FAKE_SADPM);
    chmodSync(fake, 0o755);
    const logDir = join(tmp, 'slurm logs 100%');
    mkdirSync(logDir);
    const script = renderArrayScript({
      sadpm: [fake],
      tasks: runDirs.map((runDir, i) => ({ runDir, trainArgs: ['--seed', String(i)] })),
      options: { jobName: 'sadpm-it', partition: 'debug', cpusPerTask: 1, maxParallel: 1, timeLimit: '10', logDir },
    });
    const { jobId } = await client.submit(script);
    const ref = (t: number) => `${jobId}_${t}`;
    const seen = new Map<string, RunStatus[]>();
    let last: SlurmJob[] = [];
    const poll = async (what: string, ok: (byRef: Map<string, SlurmJob>) => boolean, timeoutS = 30) => {
      const end = Date.now() + timeoutS * 1000;
      for (;;) {
        last = await client.jobs([String(jobId)]);
        for (const j of last) {
          const s = mapSlurmJob(j).status;
          const list = seen.get(j.ref) ?? [];
          if (list[list.length - 1] !== s) seen.set(j.ref, [...list, s]);
        }
        if (ok(new Map(last.map((j) => [j.ref, j])))) return;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const messages = (t: number) =>
      readFileSync(join(runDirs[t]!, 'engine.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const started = (t: number, n: number) => () => {
      try {
        return messages(t).filter((m) => m.event === 'train' || m.event === 'resume').length >= n;
      } catch {
        return false;
      }
    };
    const until = async (what: string, cond: () => boolean, timeoutS = 30) => poll(what, cond, timeoutS);

    // max-parallel 1: task 1 waits (queued, with the reason) while task 0 runs.
    await poll('task 0 running', (m) => m.get(ref(0))?.state === 'RUNNING');
    await until('task 0 started', started(0, 1));
    const waiting = last.find((j) => j.ref === ref(1))!;
    expect(mapSlurmJob(waiting)).toMatchObject({ status: 'queued', final: false });
    expect(mapSlurmJob(waiting).reason).toContain('JobArrayTaskLimit');

    // Cancel task 0: stopped for good, its trap saw CANCELLED and did not requeue it; task 1 takes the slot.
    await client.cancel(ref(0));
    const is = (m: Map<string, SlurmJob>, t: number, state: string, restarts?: number) =>
      m.get(ref(t))?.state === state && (restarts === undefined || m.get(ref(t))?.restarts === restarts);
    await poll('task 0 cancelled, task 1 running', (m) => is(m, 0, 'CANCELLED') && is(m, 1, 'RUNNING'));
    await until('task 1 started', started(1, 1));
    expect(mapSlurmJob(last.find((j) => j.ref === ref(0))!)).toMatchObject({ status: 'stopped', final: true });

    // scontrol requeue: killed (it checkpoints), queued again, runs again and resumes.
    await client.requeue(ref(1));
    await poll('task 1 requeued and running again', (m) => is(m, 1, 'RUNNING', 1));
    await until('task 1 resumed', started(1, 2));

    // TERM to the batch shell only, as --signal=B:TERM@120 sends before the time limit: the task checkpoints
    // and requeues itself, then resumes.
    await client.cancel(ref(1), { signal: 'TERM', batchOnly: true });
    await poll('task 1 self-requeued and running again', (m) => is(m, 1, 'RUNNING', 2));
    await until('task 1 resumed again', started(1, 3));

    expect(messages(0).map((m) => m.event)).toEqual(['train', 'checkpoint']);
    const task1 = messages(1).map((m) => `${m.event}${m.restart ?? ''}`);
    expect(task1).toEqual(['train0', 'checkpoint', 'resume1', 'checkpoint', 'resume2']);
    // Task 0 may be seen pending for a moment before it starts.
    expect(seen.get(ref(0))!.filter((s, i) => i > 0 || s !== 'queued')).toEqual(['running', 'stopped']);
    expect(seen.get(ref(1))).toEqual(['queued', 'running', 'queued', 'running', 'queued', 'running']);
    // Task 0 stayed cancelled: no restart.
    expect(last.find((j) => j.ref === ref(0))!.restarts).toBe(0);

    await client.cancel(String(jobId));
    await poll('the job to end', (m) => [...m.values()].every((j) => j.state === 'CANCELLED'));
    const logs = readdirSync(logDir).sort();
    expect(logs).toEqual(['0.err', '0.out', '1.err', '1.out'].map((f) => `slurm-${jobId}_${f}`));
    const err1 = readFileSync(join(logDir, `slurm-${jobId}_1.err`), 'utf8');
    expect(err1).toContain(`sadpm-slurm: requeueing ${ref(1)}`);
    console.log(`sweep scenario done after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 120_000);
});

/** Processes still running with this cluster's folder in their command line or SLURM_CONF in their environment. */
function processesOf(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const conf = `SLURM_CONF=${join(dir, 'etc', 'slurm.conf')}`;
      if (cmd.includes(dir) || env.split('\0').includes(conf)) out.push(`${pid}: ${cmd.replaceAll('\0', ' ')}`);
    } catch {
      // Gone, or another user's: not ours.
    }
  }
  return out;
}
