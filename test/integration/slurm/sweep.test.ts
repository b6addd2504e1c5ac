/**
 * A sweep through the Slurm executor on a real one-node cluster (scripts/slurm/test-cluster.sh), with the real
 * sadpm on the "compute node" (this machine): a 2×2 sweep of tiny runs lands in the store with its metrics and
 * checkpoints; a running task requeued by `scontrol requeue` resumes with no duplicated or missing steps; a
 * cancelled run ends stopped with a checkpoint. The studio's side is one SlurmExecutor polling the cluster.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingSlurm, startTestCluster, type TestCluster } from '../../../scripts/slurm/testCluster';
import { SlurmExecutor } from '../../../src/app/executors/slurmExecutor';
import { SlurmClient } from '../../../src/app/executors/slurm/client';
import { localRunner } from '../../../src/app/executors/slurm/runner';
import { createSweep } from '../../../src/app/useCases/createSweep';
import { RUN_PRESETS } from '../../../src/shared/config';
import { sweepSettled, type SlurmOptions } from '../../../src/shared/sweep';
import { RunStore } from '../../../src/store/runStore';

const missing = missingSlurm();
if (missing) console.warn(`skipping the Slurm sweep test: ${missing}`);

/**
 * quick-cpu cut down to seconds: T 100, a 2-image gap from t0 10, 4 samples of 5 steps; a loss point per step. The
 * default backend (WebGPU on llvmpipe here): a cell takes ~15 s of CPU there against ~100 s on tfjs' cpu backend.
 */
const { k: _k, lambda: _l, ...QUICK_CPU } = RUN_PRESETS['quick-cpu']!;
const TINY = {
  ...QUICK_CPU,
  T: 100,
  gapT0: 10,
  gapBatch: 2,
  sampleN: 4,
  sampleSteps: 5,
  logEvery: 1,
};

describe.skipIf(missing !== null)('sweeps through the Slurm executor on a one-node cluster', () => {
  let tmp: string;
  let cluster: TestCluster;
  let store: RunStore;
  let ex: SlurmExecutor;
  let slurm: SlurmOptions;
  const notes: string[] = [];
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'sadpm-slurm-sweep-'));
    cluster = await startTestCluster(join(tmp, 'cluster'), { cpus: 2 });
    store = RunStore.open(join(tmp, 'data'));
    ex = new SlurmExecutor(store, { pollMs: 500, log: (l) => notes.push(l) });
    slurm = { slurmConf: cluster.slurmConf, partition: 'debug', cpusPerTask: 1 };
  }, 120_000);

  afterAll(async () => {
    await ex?.stop();
    store?.close();
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  /** Polls (as the studio does) until `done` holds. */
  async function follow(what: string, done: () => boolean, timeoutS: number): Promise<void> {
    const end = Date.now() + timeoutS * 1000;
    for (;;) {
      await ex.tick();
      if (done()) return;
      if (Date.now() > end) {
        throw new Error(`timed out after ${elapsed()} waiting for ${what}; executor notes: ${notes.join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const lossSteps = (runId: number) => store.metrics.series(runId, 'loss', 100_000).steps;
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

  it('a 2×2 sweep: every run lands in the store with its metrics and checkpoints', async () => {
    const created = createSweep(store, {
      name: 'it',
      base: { ...TINY, steps: 4, checkpointEvery: 2 },
      axes: { k: [1, 2], lambda: [0, 1], seeds: [0] },
      executor: 'slurm',
      slurm,
    });
    const jobId = await ex.submit(created.runs, { slurm, jobName: 'sadpm-it-sweep' });
    store.sweeps.setJob(created.sweep.id, jobId);
    await follow(
      'the sweep to settle',
      () => ex.following().length === 0 && sweepSettled(store.sweeps.cells(created.sweep.id)),
      600,
    );
    console.log(`2×2 sweep done after ${elapsed()}`);
    const cells = store.sweeps.cells(created.sweep.id);
    expect(cells.map((c) => [c.k, c.lambda, c.status, c.step, c.slurmRef])).toEqual(
      [
        [1, 0],
        [1, 1],
        [2, 0],
        [2, 1],
      ].map(([k, l], i) => [k, l, 'completed', 4, `${jobId}_${i}`]),
    );
    for (const c of cells) {
      const id = c.runId!;
      expect(lossSteps(id), `run #${id}`).toEqual([1, 2, 3, 4]);
      expect(
        store.checkpoints.list(id).map((ck) => ck.step),
        `run #${id}`,
      ).toEqual([2, 4]);
      expect(store.gaps.list(id).length, `run #${id} gap curves`).toBeGreaterThan(0);
      expect(store.samples.list(id).length, `run #${id} sample grids`).toBeGreaterThan(0);
      expect(store.runs.get(id)!.config).toMatchObject({ k: c.k, lambda: c.lambda, T: 100 });
    }
  }, 660_000);

  it('scontrol requeue of a running task: it resumes from its checkpoint with every step once', async () => {
    // Enough steps that the requeue lands mid-run at ~0.5 s a step (the executor polls every 0.5 s).
    const steps = 60;
    const { runs } = createSweep(store, {
      name: 'requeue',
      base: { ...TINY, steps, checkpointEvery: 100 },
      axes: { k: [2], lambda: [1], seeds: [0] },
      executor: 'slurm',
      slurm,
    });
    const id = runs[0]!.id;
    await ex.submit(runs, { slurm, jobName: 'sadpm-it-requeue' });
    await follow('a few steps', () => lossSteps(id).length >= 3, 300);
    const seen = lossSteps(id).length;
    const client = new SlurmClient(localRunner({ slurmConf: cluster.slurmConf }));
    await client.requeue(store.remote.get(id)!.ref);
    await follow('the requeued run to finish', () => ex.following().length === 0, 600);
    console.log(`requeue scenario done after ${elapsed()}`);
    expect(store.runs.get(id)!.status).toBe('completed');
    // TERM from the requeue: the step under way finished and was checkpointed (no periodic checkpoint before
    // the end), and the requeued task started from there.
    const messages = readFileSync(join(store.runs.get(id)!.runDir, 'engine.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step?: number });
    const starts = messages.filter((m) => m.type === 'started').map((m) => m.step);
    const ckpts = store.checkpoints.list(id).map((c) => c.step);
    expect(starts.length, `started at ${starts.join(', ')}`).toBe(2);
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThanOrEqual(seen);
    expect(starts[1]).toBeLessThan(steps);
    expect(ckpts).toEqual([starts[1], steps]);
    // Every step's loss once, the steps after the checkpoint from the resumed attempt only.
    expect(lossSteps(id)).toEqual(range(1, steps));
  }, 960_000);

  it('cancel: the run checkpoints and ends stopped, not requeued', async () => {
    const { runs } = createSweep(store, {
      name: 'cancel',
      base: { ...TINY, steps: 5000, checkpointEvery: 1000 },
      axes: { k: [2], lambda: [1], seeds: [0] },
      executor: 'slurm',
      slurm,
    });
    const id = runs[0]!.id;
    await ex.submit(runs, { slurm, jobName: 'sadpm-it-cancel' });
    await follow('a few steps', () => lossSteps(id).length >= 2, 300);
    await ex.cancel(id);
    await follow('the cancelled run to end', () => ex.following().length === 0, 300);
    console.log(`cancel scenario done after ${elapsed()}`);
    const run = store.runs.get(id)!;
    expect(run.status).toBe('stopped');
    const last = store.checkpoints.latest(id)!.step;
    expect(last).toBeGreaterThanOrEqual(2);
    expect(lossSteps(id)).toEqual(range(1, lossSteps(id).length));
    expect(store.remote.get(id)).toMatchObject({ final: true, slurmState: 'CANCELLED' });
  }, 420_000);
});
