/**
 * The SA-vs-baseline study on tiny runs in the store: which config fields may differ, the gap ratio per t, the
 * missing gaps and evaluations filled in through (fake) engine jobs, and the report folder's files.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { RunStore } from '../../../src/store/runStore';
import { resolveRunConfig, type RunConfigInput } from '../../../src/shared/config';
import type { EngineCommand } from '../../../src/shared/engineMessages';
import type { NewEvalResult, RunRecord } from '../../../src/shared/records';
import { createCovRun } from '../../../src/app/useCases/covRuns';
import { buildStudy, configDifferences, fieldKind } from '../../../src/app/useCases/study';
import { runStudyReport } from '../../../src/app/useCases/studyReport';
import { fakeEvalSpawner } from './fakeEvalEngine';

let dir: string;
let store: RunStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sadpm-study-'));
  store = RunStore.open(dir);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = { preset: 'tiny', T: 60, gapT0: 4, batch: 2, steps: 300, sampleSteps: 5 } as const;

function run(name: string, over: Partial<RunConfigInput>, steps: number[]): RunRecord {
  const config = resolveRunConfig({ ...base, ...over, name });
  const r = store.runs.create({ name, config, appVersion: 'test' });
  for (const step of steps) {
    const path = join(r.runDir, 'checkpoints', `ckpt-${String(step).padStart(7, '0')}.sadpm-ck`);
    store.checkpoints.add({ runId: r.id, step, kind: 'full', path, bytes: 1, metrics: {} });
  }
  return store.runs.get(r.id)!;
}

function gap(runId: number, step: number, meanAbs: number[]): void {
  const t = meanAbs.map((_, i) => meanAbs.length - i);
  store.gaps.add({ runId, step, t0: 4, t, meanAbs, l2: meanAbs, signedMean: meanAbs });
}

function fid(runId: number, step: number, sampleSteps: number, value: number, over: Partial<NewEvalResult> = {}): void {
  store.evals.upsert({
    runId,
    step,
    weights: 'ema',
    sampler: 'ddim',
    variance: 'none',
    varianceRef: null,
    sampleSteps,
    spacing: 'uniform',
    eta: 0,
    n: 16,
    seed: 0,
    featureSpace: 'pixel',
    metric: 'fid',
    value,
    std: null,
    featuresSha256: null,
    refKey: 'k',
    seconds: 1,
    ...over,
  });
}

describe('which config fields a study allows to differ', () => {
  it('refuses data, model and diffusion; compares the SA loss; flags the recipe; ignores bookkeeping', () => {
    expect(['dataset', 'ch', 'chMult', 'imageSize', 'T', 'schedule', 'betaEnd'].map(fieldKind)).toEqual(
      Array(7).fill('refuse'),
    );
    expect(['k', 'lambda', 'tau'].map(fieldKind)).toEqual(['loss', 'loss', 'loss']);
    expect(['seed', 'lr', 'batch', 'warmup', 'emaDecay', 'dropout'].map(fieldKind)).toEqual(Array(6).fill('warn'));
    // steps: where a run stops; studies compare at a shared checkpoint (the H200 study's catch-up resume to the other
    // run's step was reported as 'training recipe: a confound').
    expect(['name', 'preset', 'gapT0', 'sampleSteps', 'backend', 'steps'].map(fieldKind)).toEqual(
      Array(6).fill('ignore'),
    );
    const a = run('a', { k: 1 }, []);
    const b = run('b', { k: 2, seed: 3, dataset: 'builtin:shapes32', imageSize: 32 }, []);
    const d = configDifferences([a, b]);
    expect(d.map((x) => [x.field, x.kind])).toEqual([
      ['dataset', 'refuse'],
      ['imageSize', 'refuse'],
      ['k', 'loss'],
      ['seed', 'warn'],
      ['name', 'ignore'],
    ]);
    expect(d.find((x) => x.field === 'dataset')!.values).toEqual([
      { runId: a.id, value: 'builtin:shapes' },
      { runId: b.id, value: 'builtin:shapes32' },
    ]);
  });
});

describe('the study', () => {
  it('gap ratio baseline / SA per t at the latest common checkpoint, and metric curves from the store', () => {
    const b = run('baseline', { k: 1 }, [100, 200]);
    const s = run('sa2', { k: 2, seed: 1 }, [100, 200, 300]);
    gap(b.id, 100, [0, 9, 9, 9]);
    gap(b.id, 200, [0, 0.2, 0.4, 0.6]);
    gap(s.id, 200, [0, 0.1, 0.2, 0.25]);
    gap(s.id, 300, [0, 1, 1, 1]);
    fid(b.id, 200, 10, 40);
    fid(b.id, 200, 20, 30);
    fid(s.id, 200, 10, 20);
    const study = buildStudy(store, { baselineId: b.id, saIds: [s.id] });
    expect(study.comparable).toBe(true);
    expect(study.runs.map((r) => [r.id, r.role, r.loss])).toEqual([
      [b.id, 'baseline', 'DDPM'],
      [s.id, 'sa', 'SA-2 λ=1'],
    ]);
    // Trained steps: the last checkpoint when the run stopped after its last logged step.
    expect(study.runs.map((r) => r.step)).toEqual([200, 300]);
    expect(study.gap).toMatchObject({ step: 200, t0: 4, weights: 'raw', missing: [] });
    const [ratio] = study.gap.ratios;
    expect(ratio!.t).toEqual([4, 3, 2, 1]);
    expect(ratio!.ratio[0]).toBeNull(); // 0 / 0 at the start of the chain
    expect(ratio!.ratio.slice(1)).toEqual([2, 2, 2.4].map((v) => expect.closeTo(v, 12)));
    expect(ratio!.final).toBeCloseTo(2.4, 12);
    expect(ratio!.mean).toBeCloseTo((2 + 2 + 2.4) / 3, 12);
    expect(study.notes.join('\n')).toMatch(/training recipe differs \(seed\)/);
    expect(study.spaceLabel).toMatch(/^pixel space/);
    expect(study.metrics.map((m) => m.metric)).toEqual(['fid']);
    expect(study.metrics[0]!.curves.map((c) => [c.runId, c.points.map((p) => p.value)])).toEqual([
      [b.id, [40, 30]],
      [s.id, [20]],
    ]);
    // Another pair whose data differ is reported, not compared.
    const other = run('other', { k: 2, dataset: 'builtin:shapes32', imageSize: 32 }, [200]);
    expect(buildStudy(store, { baselineId: b.id, saIds: [other.id] }).comparable).toBe(false);
    expect(() => buildStudy(store, { baselineId: b.id, saIds: [b.id] })).toThrow(/saIds: run #1 is named twice/);
    expect(() => buildStudy(store, { baselineId: b.id, saIds: [99] })).toThrow(/saIds: there is no run #99/);
  });

  it('report: measures the missing gap, evaluates the missing step counts, writes Markdown, PNG and CSV', async () => {
    const b = run('baseline', { k: 1 }, [200]);
    const s = run('sa2', { k: 2 }, [200]);
    gap(b.id, 200, [0, 0.2, 0.4, 0.6]);
    fid(b.id, 200, 10, 40);
    fid(b.id, 200, 20, 30);
    const commands: EngineCommand[] = [];
    const spawn = fakeEvalSpawner(commands, {
      gap: (_p, t) => (t === 4 ? 0 : 0.1 * (5 - t)),
      value: (_p, k) => 200 / k,
    });
    const out = join(dir, 'report');
    const evaluate = { metrics: ['fid' as const], n: 16, sampler: 'ddim' as const, steps: [10, 20, 50] };
    const report = await runStudyReport(
      { store, spawn, env: {} },
      {
        baselineId: b.id,
        saIds: [s.id],
        measureMissing: true,
        evaluate,
      },
      { out },
    );
    // The SA run had no gap curve and no results; the baseline only lacked 50 steps.
    const gaps = commands.filter((c) => c.cmd === 'gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ job: { t0: 4, ema: false } });
    const evals = commands.filter((c): c is Extract<EngineCommand, { cmd: 'eval' }> => c.cmd === 'eval');
    expect(evals.map((c) => c.job.steps)).toEqual([[50], [10, 20, 50]]);
    expect(commands.filter((c) => c.cmd === 'refStats')).toHaveLength(1);
    expect(report.study.gap.missing).toEqual([]);
    expect(report.study.gap.ratios[0]!.final).toBeCloseTo(0.6 / 0.4, 12);

    expect(report.dir).toBe(out);
    for (const f of [
      'report.md',
      'gap.png',
      'gap-ratio.png',
      'metric-fid.png',
      'gap.csv',
      'gap-ratio.csv',
      'metrics.csv',
      'study.json',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const md = readFileSync(report.markdown, 'utf8');
    expect(md).toMatch(/^# SA-DPM study: baseline #1 baseline vs #2 sa2/);
    expect(md).toMatch(/\| #2 sa2 \(SA-2 λ=1\) \| 1\.5 \| /);
    expect(md).toMatch(/Feature space: pixel space/);
    expect(md).toMatch(/!\[FID\]\(metric-fid\.png\)/);
    expect(md).toMatch(/\| 50 \| 4 \| 4 \|/);
    const csv = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      'run_id,run_name,loss,role,checkpoint_step,weights,sampler,variance,spacing,eta,n,feature_space,' +
        'metric,sample_steps,value,std',
    );
    expect(csv).toHaveLength(1 + 6);
    expect(readFileSync(join(out, 'gap-ratio.csv'), 'utf8').split('\n')[4]).toBe('1,1.4999999999999998');
    const png = PNG.sync.read(readFileSync(join(out, 'metric-fid.png')));
    expect([png.width, png.height]).toEqual([720, 420]);
    expect(JSON.parse(readFileSync(join(out, 'study.json'), 'utf8')).runs).toHaveLength(2);
  });

  it("issue 13: a variance sampler evaluates with each run's own head; two heads are two columns, never one", async () => {
    const b = run('baseline', { k: 1 }, [200]);
    const s = run('sa2', { k: 2 }, [200]);
    const head = (parent: RunRecord) => {
      const cov = createCovRun(store, parent, { kind: 'npr', steps: 2, ema: true });
      store.checkpoints.add({
        runId: cov.id,
        step: 2,
        kind: 'full',
        path: join(cov.runDir, 'h.sadpm-cov'),
        bytes: 1,
        metrics: {},
      });
      store.runs.setStatus(cov.id, 'completed');
      return cov.id;
    };
    // The baseline's results of a head that is no longer its newest do not count as this evaluation's.
    const old = head(b);
    fid(b.id, 200, 10, 40, { sampler: 'npr-ddim', variance: `npr run #${old} step 2`, varianceRef: '/old' });
    const [hb, hs] = [head(b), head(s)];
    const commands: EngineCommand[] = [];
    const spawn = fakeEvalSpawner(commands, { value: (p, k) => (p.includes(`/${b.name}`) ? 100 : 200) / k });
    const evaluate = { metrics: ['fid' as const], n: 16, sampler: 'npr-ddim' as const, steps: [10] };
    const report = await runStudyReport(
      { store, spawn, env: {} },
      { baselineId: b.id, saIds: [s.id], evaluate },
      { out: join(dir, 'report') },
    );
    const evals = commands.flatMap((c) => (c.cmd === 'eval' ? [c.job] : []));
    expect(evals.map((j) => [j.sampler, j.steps, j.covHead])).toEqual([
      ['npr-ddim', [10], join(store.runs.get(hb)!.runDir, 'h.sadpm-cov')],
      ['npr-ddim', [10], join(store.runs.get(hs)!.runDir, 'h.sadpm-cov')],
    ]);
    const curves = report.study.metrics.find((m) => m.metric === 'fid')!.curves;
    expect(curves.map((c) => [c.runId, c.variance]).sort()).toEqual(
      [
        [b.id, `npr run #${hb} step 2`],
        [b.id, `npr run #${old} step 2`],
        [s.id, `npr run #${hs} step 2`],
      ].sort(),
    );
    const md = readFileSync(report.markdown, 'utf8');
    expect(md).toContain(`npr-ddim (npr run #${old} step 2)`);
    expect(md).toContain(`npr-ddim (npr run #${hb} step 2)`);
    const csv = readFileSync(join(dir, 'report', 'metrics.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv.filter((l) => l.includes(`,npr-ddim,npr run #${hb} step 2,`))).toHaveLength(1);
  });

  it('refuses to report on runs that differ in data or model, naming the fields', async () => {
    const b = run('baseline', { k: 1 }, [200]);
    const o = run('other', { k: 2, ch: 32 }, [200]);
    const spawn = fakeEvalSpawner([]);
    await expect(
      runStudyReport({ store, spawn, env: {} }, { baselineId: b.id, saIds: [o.id] }, { out: join(dir, 'r') }),
    ).rejects.toThrow(/do not share data, model and diffusion: ch \(#1 16 vs #2 32\)/);
    expect(existsSync(join(dir, 'r'))).toBe(false);
  });
});
