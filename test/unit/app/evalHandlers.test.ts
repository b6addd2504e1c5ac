/**
 * The contract's evaluation, study and settings channels over the app's services, with a scripted engine:
 * validation, the eval job's result as its kind's schema says, cancel, curves, the study's refusals, and the
 * settings file (atomic, unknown keys kept, the weights file checked).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../src/app/services';
import { dispatch, makeHandlers } from '../../../src/app/contract/handlers';
import { JOB_RESULTS, type EventPayload } from '../../../src/shared/contract';
import { resolveRunConfig, type RunConfigInput } from '../../../src/shared/config';
import type { EngineCommand } from '../../../src/shared/engineMessages';
import { fakeEvalSpawner, type FakeEvalOptions } from './fakeEvalEngine';

vi.mock('electron', () => ({}));

let dir: string;
let services: Services;
let commands: EngineCommand[];
let handlers: ReturnType<typeof makeHandlers>;
let done: EventPayload<'job.done'>[];

function setup(o: FakeEvalOptions = {}): void {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-evalh-'));
  commands = [];
  done = [];
  services = createServices({
    dataDir: dir,
    spawn: fakeEvalSpawner(commands, o),
    mode: 'web',
    flushMs: 5,
    log: () => {},
  });
  services.subscribe((e, p) => e === 'job.done' && done.push(p as EventPayload<'job.done'>));
  handlers = makeHandlers(services);
}
beforeEach(() => {
  vi.stubEnv('SADPM_INCEPTION_WEIGHTS', '');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (channel: string, req: unknown) => dispatch(handlers, channel, req);
const waitDone = async (jobId: string) => {
  for (let i = 0; i < 500 && !done.some((d) => d.jobId === jobId); i++) await new Promise((r) => setTimeout(r, 5));
  return done.find((d) => d.jobId === jobId)!;
};

function run(name: string, over: Partial<RunConfigInput>, step = 200) {
  const config = resolveRunConfig({ preset: 'tiny', T: 60, sampleSteps: 5, gapT0: 4, ...over, name });
  const r = services.store.runs.create({ name, config, appVersion: 'test' });
  const path = join(r.runDir, 'checkpoints', `ckpt-${String(step).padStart(7, '0')}.sadpm-ck`);
  const ck = services.store.checkpoints.add({ runId: r.id, step, kind: 'full', path, bytes: 1, metrics: {} });
  return { run: r, ck };
}

const evalReq = { metrics: ['fid', 'kid', 'pr'], n: 16, sampler: 'ddim', steps: [10, 20] };

describe('eval channels', () => {
  beforeEach(() => setup());

  it('eval.start runs an eval job whose result is an EvalOutcome; the results are listed and charted', async () => {
    const { run: r, ck } = run('a', { k: 1 });
    const started = await call('eval.start', { checkpointId: ck.id, ...evalReq });
    expect(started.ok).toBe(true);
    const d = await waitDone((started as { res: { jobId: string } }).res.jobId);
    expect(d).toMatchObject({ kind: 'eval', ok: true });
    const outcome = JOB_RESULTS.eval.parse(d.result);
    expect(outcome).toMatchObject({
      runId: r.id,
      checkpointStep: 200,
      featureSpace: 'pixel',
      refCached: false,
      ema: true,
    });
    expect(outcome.rows.map((x) => [x.sampleSteps, x.fid])).toEqual([
      [10, 10],
      [20, 5],
    ]);
    expect(commands.map((c) => c.cmd).filter((c) => c !== 'exit')).toEqual(['refStats', 'eval']);
    const list = await call('eval.list', { runId: r.id });
    expect(list.ok && (list.res as unknown[]).length).toBe(8);
    const curves = await call('eval.curves', { runIds: [r.id], metric: 'fid' });
    expect(curves.ok && curves.res).toEqual([
      expect.objectContaining({
        runId: r.id,
        featureSpace: 'pixel',
        points: [
          { sampleSteps: 10, value: 10, std: null },
          { sampleSteps: 20, value: 5, std: null },
        ],
      }),
    ]);
    const listed = await call('runs.list', { withEvals: true });
    expect(
      listed.ok &&
        (listed.res as { runs: { latestEvals: { metric: string }[] }[] }).runs[0]!.latestEvals.map(
          (e) => e.metric,
        ).sort(),
    ).toEqual(['fid', 'kid', 'precision', 'recall']);
  });

  it('refuses bad requests by field: unknown checkpoint, metric, too many steps, IS without the weights', async () => {
    const { ck } = run('a', { k: 1 });
    expect(await call('eval.start', { checkpointId: 99, ...evalReq })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    const bad = await call('eval.start', { checkpointId: ck.id, ...evalReq, metrics: ['fid', 'lpips'] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(!bad.ok && bad.error.message).toMatch(/^eval\.start: metrics\.1: /);
    const over = await call('eval.start', { checkpointId: ck.id, ...evalReq, steps: [10, 100] });
    const d = await waitDone((over as { res: { jobId: string } }).res.jobId);
    expect(d).toMatchObject({ ok: false, error: expect.stringMatching(/^steps: this run has T = 60/) });
    const is = await call('eval.start', { checkpointId: ck.id, ...evalReq, metrics: ['is'] });
    const d2 = await waitDone((is as { res: { jobId: string } }).res.jobId);
    expect(d2.error).toMatch(/^metrics: the Inception Score needs the Inception classifier/);
    expect(commands.filter((c) => c.cmd === 'eval')).toEqual([]);
  });

  it('a study of runs with different data is shown as not comparable and its report refused', async () => {
    const a = run('a', { k: 1 }).run;
    const b = run('b', { k: 2, dataset: 'builtin:shapes32', imageSize: 32 }).run;
    const s = await call('study.get', { baselineId: a.id, saIds: [b.id] });
    expect(s.ok && s.res).toMatchObject({
      comparable: false,
      differences: expect.arrayContaining([expect.objectContaining({ field: 'dataset', kind: 'refuse' })]),
    });
    const r = await call('study.report', { baselineId: a.id, saIds: [b.id] });
    expect(r).toMatchObject({
      ok: false,
      error: {
        code: 'invalid',
        message: expect.stringMatching(/dataset \(#1 builtin:shapes vs #2 builtin:shapes32\)/),
      },
    });
    const c = run('c', { k: 2 }).run;
    const ok = await call('study.report', { baselineId: a.id, saIds: [c.id] });
    const d = await waitDone((ok as { res: { jobId: string } }).res.jobId);
    expect(JOB_RESULTS.study.parse(d.result).files.some((f) => f.endsWith('report.md'))).toBe(true);
  });
});

describe('eval cancel', () => {
  beforeEach(() => setup({ hold: true }));
  it('jobs.cancel reaches the engine job and the job ends cancelled', async () => {
    const { ck } = run('a', { k: 1 });
    const started = await call('eval.start', { checkpointId: ck.id, ...evalReq });
    const jobId = (started as { res: { jobId: string } }).res.jobId;
    for (let i = 0; i < 200 && !commands.some((c) => c.cmd === 'eval'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(await call('jobs.cancel', { jobId })).toMatchObject({ ok: true });
    expect(await waitDone(jobId)).toMatchObject({ kind: 'eval', ok: false, error: 'cancelled' });
    expect(commands.some((c) => c.cmd === 'cancel')).toBe(true);
    expect(services.store.evals.list(ck.runId)).toEqual([]);
  });
});

describe('settings', () => {
  beforeEach(() => setup());
  it('stores the weights path atomically, keeps unknown keys, and says whether the file is there and right', async () => {
    const first = await call('settings.get', {});
    expect(first.ok && first.res).toMatchObject({
      settings: { inceptionWeights: null },
      weights: { ok: false, found: false, source: null },
    });
    expect(first.ok && (first.res as { weights: { message: string } }).weights.message).toMatch(
      /pixel space.*Nothing is downloaded/,
    );
    expect(await call('settings.set', { inceptionWeights: 'relative.pth' })).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: expect.stringMatching(/^inceptionWeights: expected an absolute path/) },
    });
    expect(await call('settings.set', { colour: 'blue' })).toMatchObject({ ok: false, error: { code: 'invalid' } });
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ fromLaterVersion: 7 }));
    const missing = join(dir, 'missing.pth');
    const set = await call('settings.set', { inceptionWeights: missing });
    expect(set.ok && set.res).toMatchObject({
      settings: { inceptionWeights: missing },
      weights: { path: missing, source: 'settings', found: false, ok: false },
    });
    expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'))).toEqual({
      fromLaterVersion: 7,
      inceptionWeights: missing,
    });
    const wrong = join(dir, 'wrong.pth');
    writeFileSync(wrong, 'x');
    const w = await call('settings.set', { inceptionWeights: wrong });
    expect(w.ok && w.res).toMatchObject({
      weights: { found: true, ok: false, sha256: expect.stringMatching(/^2d711642/) },
    });
    vi.stubEnv('SADPM_INCEPTION_WEIGHTS', missing);
    const env = await call('settings.get', {});
    expect(env.ok && env.res).toMatchObject({ env: { value: missing }, weights: { source: 'env', path: missing } });
    writeFileSync(join(dir, 'settings.json'), '{ broken');
    expect(await call('settings.get', {})).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/settings\.json: not valid JSON/) },
    });
  });
});
