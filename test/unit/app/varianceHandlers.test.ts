/**
 * Issue 13's contract channels with the scripted engine (fakeEngine.ts): covariance runs as child runs trained and
 * resumed through the run queue, Γ estimates cached per run, and sampling resolving each sampler's variance source.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services';
import { dispatch, makeHandlers } from '../../../src/app/contract/handlers';
import type { EngineCommand } from '../../../src/shared/engineMessages';
import type { EventPayload } from '../../../src/shared/contract';
import type { RunRecord } from '../../../src/shared/records';
import { fakeSpawner, type FakeEngineLog } from './fakeEngine';

vi.mock('electron', () => ({}));

let dir: string;
let s: Services;
let log: FakeEngineLog;
let handlers: ReturnType<typeof makeHandlers>;
let done: EventPayload<'job.done'>[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-variance-'));
  log = { spawned: 0, commands: [] };
  s = createServices({ dataDir: dir, spawn: fakeSpawner(log), mode: 'web', flushMs: 5 });
  handlers = makeHandlers(s);
  done = [];
  s.subscribe((e, p) => e === 'job.done' && done.push(p as EventPayload<'job.done'>));
});

afterEach(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const tiny = { preset: 'tiny', T: 50, gapT0: 20, steps: 4, checkpointEvery: 2, batch: 2 };

async function call<T = unknown>(channel: string, req: unknown): Promise<T> {
  const r = await dispatch(handlers, channel, req);
  if (!r.ok) throw Object.assign(new Error(r.error.message), { code: r.error.code });
  return r.res as T;
}

function waitFor(pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () =>
      pred() ? resolve() : Date.now() - t0 > ms ? reject(new Error('timed out')) : setTimeout(tick, 5);
    tick();
  });
}

/** Starts a job through `channel` and waits for its job.done. */
async function job(channel: string, req: unknown): Promise<EventPayload<'job.done'>> {
  const { jobId } = await call<{ jobId: string }>(channel, req);
  await waitFor(() => done.some((d) => d.jobId === jobId));
  return done.find((d) => d.jobId === jobId)!;
}

/** A completed training run and its last checkpoint (step 4). */
async function trainedRun(): Promise<{ run: RunRecord; ckId: number }> {
  const run = await call<RunRecord>('runs.create', { config: tiny });
  await waitFor(() => s.store.runs.get(run.id)!.status === 'completed');
  return { run: s.store.runs.get(run.id)!, ckId: s.store.checkpoints.latest(run.id)!.id };
}

const commands = (kind: EngineCommand['cmd']) => log.commands.filter((c) => c.cmd === kind);

describe('covariance runs (runs.createCov)', () => {
  it('a child run trained through the queue, resumed from a later checkpoint with more steps', async () => {
    const { run, ckId } = await trainedRun();
    const req = { checkpointId: ckId, ema: true, kind: 'npr', steps: 6, checkpointEvery: 2 };
    const cov = await call<RunRecord>('runs.createCov', req);
    expect(cov).toMatchObject({ kind: 'cov', parentId: run.id, totalSteps: 6 });
    expect(cov.cov).toMatchObject({
      kind: 'npr',
      batch: 128,
      lr: 1e-4,
      base: { step: 4, ema: true, runDir: run.runDir },
    });
    await waitFor(() => s.store.runs.get(cov.id)!.status === 'completed');
    const start = commands('trainCov')[0]!;
    expect(start).toMatchObject({ cmd: 'trainCov', runDir: cov.runDir, config: cov.cov });
    expect(s.store.checkpoints.list(cov.id).map((c) => c.path.split('/').pop())).toEqual([
      'cov-0000002.sadpm-cov',
      'cov-0000004.sadpm-cov',
      'cov-0000006.sadpm-cov',
    ]);
    const more = await call<RunRecord>('runs.resume', { id: cov.id, steps: 9 });
    expect(more.cov?.steps).toBe(9);
    await waitFor(() => s.store.runs.get(cov.id)!.status === 'completed');
    expect(commands('trainCov')[1]).toMatchObject({ resumeFrom: s.store.checkpoints.at(cov.id, 6)!.path });
    expect(s.store.metrics.series(cov.id, 'loss', 100).steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.store.runs.list({ kind: 'cov', parentId: run.id }).map((r) => r.id)).toEqual([cov.id]);
  });

  it('refuses a covariance run of a covariance run, EMA weights a run does not keep, and bad fields', async () => {
    const { run, ckId } = await trainedRun();
    const cov = await call<RunRecord>('runs.createCov', { checkpointId: ckId, ema: false, kind: 'sn', steps: 2 });
    await waitFor(() => s.store.runs.get(cov.id)!.status === 'completed');
    const covCk = s.store.checkpoints.latest(cov.id)!.id;
    const again = call('runs.createCov', { checkpointId: covCk, ema: false, kind: 'sn', steps: 2 });
    await expect(again).rejects.toMatchObject({
      code: 'not_found',
      message: /is a covariance run .* sn-ddpm or sn-ddim/,
    });
    const bad = call('runs.createCov', { checkpointId: ckId, ema: false, kind: 'xx', steps: 2 });
    await expect(bad).rejects.toMatchObject({ code: 'invalid', message: /runs\.createCov: kind/ });
    const noEma = await call<RunRecord>('runs.create', { config: { ...tiny, emaDecay: 0 } });
    await waitFor(() => s.store.runs.get(noEma.id)!.status === 'completed');
    const ck = s.store.checkpoints.latest(noEma.id)!.id;
    const ema = call('runs.createCov', { checkpointId: ck, ema: true, kind: 'npr', steps: 2 });
    await expect(ema).rejects.toMatchObject({ code: 'invalid', message: /ema: run #\d+ keeps no EMA/ });
    expect(s.store.runs.list({ kind: 'cov' }).map((r) => r.id)).toEqual([cov.id]);
    expect(run.kind).toBe('train');
  });
});

describe('Γ estimates (gamma.estimate) and sampling with each variance source', () => {
  it('estimates once, then answers from the cache (also for a trajectory it covers)', async () => {
    const { run, ckId } = await trainedRun();
    const first = await job('gamma.estimate', {
      checkpointId: ckId,
      ema: true,
      steps: [5, 10],
      spacing: 'uniform',
      nImages: 20,
    });
    expect(first).toMatchObject({ ok: true, kind: 'gamma', result: { cached: false, checkpointStep: 4, nImages: 20 } });
    const key = (first.result as { key: string }).key;
    expect(s.store.gammas.list(run.id).map((g) => g.key)).toEqual([key]);
    const spawned = log.spawned;
    const second = await job('gamma.estimate', {
      checkpointId: ckId,
      ema: true,
      steps: [5],
      spacing: 'uniform',
      nImages: 20,
    });
    expect(second.result).toMatchObject({ cached: true, key });
    expect(log.spawned).toBe(spawned);
    // Another seed, the raw weights or too many images are other estimates (or refused before a job starts).
    const raw = await job('gamma.estimate', {
      checkpointId: ckId,
      ema: false,
      steps: [5],
      spacing: 'uniform',
      nImages: 20,
    });
    expect(raw.result).toMatchObject({ cached: false, ema: false });
    const tooMany = call('gamma.estimate', {
      checkpointId: ckId,
      ema: true,
      steps: [5],
      spacing: 'uniform',
      nImages: 5000,
    });
    await expect(tooMany).rejects.toMatchObject({
      code: 'invalid',
      message: /nImages: expected an integer in 1\.\.4094/,
    });
    expect((await call<unknown[]>('gamma.list', { runId: run.id })).length).toBe(2);
  });

  it('samples.generate: analytic-* uses the cached Γ or makes and caches one; npr/sn find their head', async () => {
    const { run, ckId } = await trainedRun();
    const settings = { n: 4, steps: 5, spacing: 'uniform', eta: 0, seed: 0, ema: true };
    const a = { ...settings, sampler: 'analytic-ddpm', variance: { gammaImages: 30 } };
    expect(await job('samples.generate', { checkpointId: ckId, settings: a })).toMatchObject({ ok: true });
    expect(commands('sample')[0]).toMatchObject({ job: { gammaEstimate: { nImages: 30, seed: 0 } } });
    const [cached] = s.store.gammas.list(run.id);
    expect(cached?.key).toMatch(/^gamma-v1:step4:ema:T50:n30:seed0:traj5x/);
    await job('samples.generate', { checkpointId: ckId, settings: { ...a, sampler: 'analytic-ddim' } });
    expect(commands('sample')[1]).toMatchObject({ job: { gamma: { key: cached!.key } } });
    expect((commands('sample')[1] as { job: object }).job).not.toHaveProperty('gammaEstimate');

    const n = { ...settings, sampler: 'npr-ddim' };
    const missing = await job('samples.generate', { checkpointId: ckId, settings: n });
    expect(missing).toMatchObject({
      ok: false,
      error: /no completed NPR covariance head on checkpoint 4 \(EMA weights\).*train one first/,
    });
    const cov = await call<RunRecord>('runs.createCov', { checkpointId: ckId, ema: true, kind: 'npr', steps: 2 });
    await waitFor(() => s.store.runs.get(cov.id)!.status === 'completed');
    expect(await job('samples.generate', { checkpointId: ckId, settings: n })).toMatchObject({ ok: true });
    expect(commands('sample').at(-1)).toMatchObject({ job: { covHead: s.store.checkpoints.latest(cov.id)!.path } });
    const wrongKind = await job('samples.generate', {
      checkpointId: ckId,
      settings: { ...n, sampler: 'sn-ddpm', variance: { covRun: cov.id } },
    });
    expect(wrongKind).toMatchObject({ ok: false, error: /covRun: covariance run #\d+ holds an NPR head, not SN/ });
  });
});
