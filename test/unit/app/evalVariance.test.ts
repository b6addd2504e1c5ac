/**
 * The evaluation's variance source (issue 13) with a scripted engine: what the eval job is sent for each sampler
 * (a cached Γ that covers every step count, else the settings to estimate one; a covariance run's head; nothing),
 * what each stored result names, and the refusals before any engine work.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRunConfig } from '../../../src/shared/config';
import { gammaKey } from '../../../src/shared/gammaEstimate';
import { FieldError } from '../../../src/shared/errors';
import type { EngineCommand, EvalJob } from '../../../src/shared/engineMessages';
import type { RunRecord } from '../../../src/shared/records';
import { RunStore } from '../../../src/store/runStore';
import { runCheckpoint } from '../../../src/app/useCases/checkpointTarget';
import { createCovRun } from '../../../src/app/useCases/covRuns';
import { evaluateCheckpoint, type EvaluateOptions } from '../../../src/app/useCases/evaluate';
import { trainingImageCount, trajectoryUnion } from '../../../src/app/useCases/gammaEstimate';
import { kebab } from '../../../src/cli/args';
import { tmpDir } from '../store/helpers';
import { fakeEvalSpawner } from './fakeEvalEngine';

let dir: string;
let store: RunStore;
let run: RunRecord;
let commands: EngineCommand[];
const STEP = 200;
const base = { metrics: ['fid' as const], n: 16, steps: [10, 20], ema: true };

beforeEach(() => {
  dir = tmpDir('sadpm-evalvar-');
  store = RunStore.open(dir);
  commands = [];
  const config = resolveRunConfig({ preset: 'tiny', T: 60, sampleSteps: 5, gapT0: 4, name: 'r' });
  run = store.runs.create({ name: 'r', config, appVersion: 'test' });
  const path = join(run.runDir, 'checkpoints', `ckpt-${String(STEP).padStart(7, '0')}.sadpm-ck`);
  store.checkpoints.add({ runId: run.id, step: STEP, kind: 'full', path, bytes: 1, metrics: {} });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const evaluate = (s: object, o: EvaluateOptions = {}) =>
  evaluateCheckpoint(
    { store, spawn: fakeEvalSpawner(commands), env: {} },
    runCheckpoint(store, run, 'latest'),
    { ...base, ...s } as Parameters<typeof evaluateCheckpoint>[2],
    o,
  );
const evalJobs = () => commands.flatMap((c) => (c.cmd === 'eval' ? [c.job as EvalJob] : []));

/** A stored Γ estimate of the checkpoint's EMA weights at `trajectory` from n images, seed 0. */
function cacheGamma(trajectory: number[], nImages: number): string {
  const parts = { checkpointStep: STEP, ema: true, T: 60, trajectory, nImages, seed: 0 };
  const key = gammaKey(parts);
  const estimate = { kind: 'sadpm-gamma', version: 1, key, ...parts, gamma: trajectory.map(() => 0.9) };
  store.gammas.put({ runId: run.id, key, checkpointStep: STEP, estimate });
  return key;
}

/** A completed NPR covariance run on the checkpoint's EMA weights with a head checkpoint at step 2. */
function covRun(): { id: number; path: string } {
  const cov = createCovRun(store, run, { kind: 'npr', steps: 2, ema: true });
  const path = join(cov.runDir, 'checkpoints', 'cov-0000002.sadpm-cov');
  store.checkpoints.add({ runId: cov.id, step: 2, kind: 'full', path, bytes: 1, metrics: {} });
  store.runs.setStatus(cov.id, 'completed');
  return { id: cov.id, path };
}

/** As the CLI prints a use case's error (src/cli/index.ts describeError): a FieldError as its flag. */
function formatError(err: unknown): string {
  if (!(err instanceof FieldError)) return String(err);
  return `--${kebab(err.field)}${err.value !== undefined ? ` ${err.value}` : ''}: ${err.detail}`;
}

describe('the evaluation of a variance sampler', () => {
  it('analytic-*: a cached Γ covering every step count is sent; else the job estimates one', async () => {
    const union = trajectoryUnion(60, [10, 20], 'uniform');
    const pool = trainingImageCount(run.config);
    // An estimate that covers 10 steps only does not serve 10 and 20.
    cacheGamma(trajectoryUnion(60, [10], 'uniform'), pool);
    const made = await evaluate({ sampler: 'analytic-ddim' });
    expect(evalJobs()[0]).toMatchObject({ gammaEstimate: { nImages: pool, seed: 0 } });
    expect(evalJobs()[0]!.gamma).toBeUndefined();
    expect(made.varianceUsed).toEqual({
      kind: 'gamma',
      key: gammaKey({ checkpointStep: STEP, ema: true, T: 60, trajectory: union, nImages: pool, seed: 0 }),
      cached: false,
    });
    expect(made.results.every((r) => r.variance === `gamma n=${pool} seed=0`)).toBe(true);

    const key = cacheGamma(union, pool);
    const hit = await evaluate({ sampler: 'analytic-ddpm' });
    expect((evalJobs()[1]!.gamma as { key: string }).key).toBe(key);
    expect(evalJobs()[1]!.gammaEstimate).toBeUndefined();
    expect(hit.varianceUsed).toEqual({ kind: 'gamma', key, cached: true });
    expect(hit.results[0]).toMatchObject({
      sampler: 'analytic-ddpm',
      variance: `gamma n=${pool} seed=0`,
      varianceRef: key,
    });

    // Other images or seed: another source, estimated anew.
    await evaluate({ sampler: 'analytic-ddim', variance: { gammaImages: 5, gammaSeed: 3 } });
    expect(evalJobs()[2]).toMatchObject({ gammaEstimate: { nImages: 5, seed: 3 } });
  });

  it('npr-* / sn-*: the covariance run asked for or the newest completed one; the result names it', async () => {
    const h = covRun();
    const o = await evaluate({ sampler: 'npr-ddim' });
    expect(evalJobs()[0]).toMatchObject({ sampler: 'npr-ddim', covHead: h.path });
    expect(o.varianceUsed).toMatchObject({ kind: 'head', head: 'npr', covRunId: h.id, path: h.path });
    expect(o.variance).toBe(`npr run #${h.id} step 2`);
    expect(o.results.every((r) => r.variance === o.variance && r.varianceRef === h.path)).toBe(true);
    await evaluate({ sampler: 'npr-ddpm', variance: { covRun: h.id } });
    expect(evalJobs()[1]).toMatchObject({ covHead: h.path });
    // A head file (the CLI's --cov-head-file) needs no covariance run.
    const file = await evaluate({ sampler: 'sn-ddim' }, { covHeadFile: '/heads/sn.sadpm-cov' });
    expect(evalJobs()[2]).toMatchObject({ covHead: '/heads/sn.sadpm-cov' });
    expect(file.variance).toBe('sn file /heads/sn.sadpm-cov step 2');
  });

  it('ddpm / ddim: no source sent, whatever variance options the form still holds', async () => {
    const o = await evaluate({ sampler: 'ddim', variance: { gammaImages: 5, covRun: 99 } });
    const job = evalJobs()[0]!;
    expect([job.gamma, job.gammaEstimate, job.covHead]).toEqual([undefined, undefined, undefined]);
    expect(o.variance).toBe('none');
    expect(o.results[0]).toMatchObject({ variance: 'none', varianceRef: null });
  });

  it('refuses a missing head or bad Γ settings before any engine starts, naming the flag or field', async () => {
    const err = await evaluate({ sampler: 'sn-ddim' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).field).toBe('covRun');
    expect(formatError(err)).toMatch(
      new RegExp(
        '^--cov-run: no completed SN covariance head on checkpoint 200 \\(EMA weights\\) of run #1: ' +
          'train one first \\(sadpm train-cov 1 --checkpoint 200 --ema --kind sn --steps N',
      ),
    );
    const notCov = await evaluate({ sampler: 'npr-ddim', variance: { covRun: run.id } }).catch((e: unknown) => e);
    expect(formatError(notCov)).toBe(`--cov-run ${run.id}: run #${run.id} is not a covariance run`);
    const pool = trainingImageCount(run.config);
    const many = await evaluate({ sampler: 'analytic-ddim', variance: { gammaImages: pool + 1 } }).catch((e) => e);
    expect(formatError(many)).toMatch(new RegExp(`^--gamma-images ${pool + 1}: expected an integer in 1..${pool}`));
    expect(commands).toEqual([]);
  });
});
