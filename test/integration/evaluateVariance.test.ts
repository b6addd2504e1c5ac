/**
 * Issue 13 in the evaluation (issue 12), end to end with the real engine jobs in process, pixel feature space:
 * analytic-ddim estimates Γ once over the union of the step counts' trajectories (then cached), npr-ddim samples
 * with the head of a covariance run of that checkpoint, and each result names the variance source it used, so
 * two heads are two lines and never replace each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { trainCov } from '../../src/engine/train/covTrainer';
import { RunStore } from '../../src/store/runStore';
import { RunRecorder } from '../../src/store/recorder';
import { runCheckpoint } from '../../src/app/useCases/checkpointTarget';
import { createCovRun } from '../../src/app/useCases/covRuns';
import { evaluateCheckpoint } from '../../src/app/useCases/evaluate';
import type { EngineCommand } from '../../src/shared/engineMessages';
import type { RunRecord } from '../../src/shared/records';
import { inProcessSpawner } from './inProcessEngine';
import { trainTinyRun } from './tinyRun';

const dir = mkdtempSync(join(tmpdir(), 'sadpm-evalvar-'));
let store: RunStore;
let run: RunRecord;
const commands: EngineCommand[] = [];
const deps = () => ({ store, spawn: inProcessSpawner(commands), env: {} });
const base = { metrics: ['fid', 'kid'] as ('fid' | 'kid')[], n: 8, steps: [2, 4], refN: 32, ema: false };

/** Trains one NPR head (2 steps) on the run's latest checkpoint as a child covariance run, recorded. */
async function trainHead(seed: number): Promise<RunRecord> {
  const cov = createCovRun(store, run, { kind: 'npr', steps: 2, ema: false, batch: 2, seed, checkpointEvery: 2 });
  store.runs.markRunning(cov.id, { pid: process.pid, start: '' });
  const rec = new RunRecorder(store, cov.id, { flushMs: 10 });
  await trainCov(cov.cov!, { runDir: cov.runDir, sink: (m) => rec.handle(m) });
  await rec.idle();
  return store.runs.get(cov.id)!;
}

beforeAll(async () => {
  await initBackend('auto');
  store = RunStore.open(dir);
  run = await trainTinyRun(store, 'tiny-evalvar');
}, 120_000);

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('evaluate with the variance samplers (pixel space, in-process engine)', () => {
  it('analytic-ddim: Γ estimated once over every step count, cached, and named in each result', async () => {
    const target = runCheckpoint(store, run, 'latest');
    const s = { ...base, sampler: 'analytic-ddim' as const, variance: { gammaImages: 8 } };
    const progress: [number, number][] = [];
    const first = await evaluateCheckpoint(deps(), target, s, { onProgress: (d, t) => progress.push([d, t]) });
    expect(first.rows.map((r) => r.sampleSteps)).toEqual([2, 4]);
    for (const r of first.rows) expect(r.fid).toBeGreaterThan(0);
    expect(first.variance).toBe('gamma n=8 seed=0');
    expect(first.varianceUsed).toMatchObject({ kind: 'gamma', cached: false });
    const key = first.varianceRef!;
    expect(key).toMatch(/^gamma-v1:step2:raw:T20:n8:seed0:traj/);
    // One estimate over the union of the trajectories of 2 and 4 steps, kept with the run.
    const cached = store.gammas.list(run.id);
    expect(cached.map((g) => g.key)).toEqual([key]);
    expect((cached[0]!.estimate as { trajectory: number[] }).trajectory).toEqual([0, 5, 10, 15]);
    const evalJob = commands.filter((c) => c.cmd === 'eval').at(-1)!;
    expect(evalJob).toMatchObject({ job: { sampler: 'analytic-ddim', gammaEstimate: { nImages: 8, seed: 0 } } });
    // Progress: reference images, the estimate's 4 indices x 1 batch, then the sampled images, ending at the total.
    expect(progress.at(-1)).toEqual([32 + 4 + 16, 32 + 4 + 16]);
    const stored = store.evals.list(run.id).filter((e) => e.sampler === 'analytic-ddim');
    expect(stored).toHaveLength(4);
    expect(stored.every((e) => e.variance === 'gamma n=8 seed=0' && e.varianceRef === key)).toBe(true);

    const again = await evaluateCheckpoint(deps(), target, { ...s, steps: [4] });
    expect(again.varianceUsed).toEqual({ kind: 'gamma', key, cached: true });
    const job = commands.filter((c) => c.cmd === 'eval').at(-1)!;
    expect(job.cmd === 'eval' && job.job.gammaEstimate).toBeFalsy();
    expect(job.cmd === 'eval' && (job.job.gamma as { key: string }).key).toBe(key);
    expect(store.gammas.list(run.id)).toHaveLength(1);
  }, 120_000);

  it("npr-ddim: the covariance run's head; two heads are two lines", async () => {
    const target = runCheckpoint(store, run, 'latest');
    const s = { ...base, sampler: 'npr-ddim' as const };
    const none = await evaluateCheckpoint(deps(), target, s).catch((e: unknown) => e);
    expect(String(none)).toMatch(/covRun: no completed NPR covariance head on checkpoint 2 \(raw weights\).*train-cov/);
    const h1 = await trainHead(1);
    expect(h1.status).toBe('completed');
    const a = await evaluateCheckpoint(deps(), target, s);
    expect(a.variance).toBe(`npr run #${h1.id} step 2`);
    expect(a.varianceRef).toBe(store.checkpoints.latest(h1.id)!.path);
    for (const r of a.rows) expect(r.fid).toBeGreaterThan(0);
    const h2 = await trainHead(2);
    const b = await evaluateCheckpoint(deps(), target, { ...s, variance: { covRun: h2.id } });
    expect(b.variance).toBe(`npr run #${h2.id} step 2`);
    // Same sampler, steps, seed and n: the second head's results are stored beside the first's.
    const npr = store.evals.list(run.id).filter((e) => e.sampler === 'npr-ddim');
    expect(new Set(npr.map((e) => e.variance))).toEqual(new Set([a.variance, b.variance]));
    expect(npr).toHaveLength(8);
    const fid = store.evals.curves({ runIds: [run.id], metric: 'fid', sampler: 'npr-ddim' });
    expect(fid.map((c) => c.variance).sort()).toEqual([a.variance, b.variance].sort());
    expect(fid.every((c) => c.points.length === 2)).toBe(true);
  }, 240_000);
});
