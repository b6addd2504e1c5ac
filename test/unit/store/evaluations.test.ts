import { describe, expect, it } from 'vitest';
import type { NewEvalResult } from '../../../src/shared/records';
import type { RunStore } from '../../../src/store/runStore';
import { freshStore, newRun } from './helpers';

function result(runId: number, over: Partial<NewEvalResult> = {}): NewEvalResult {
  return {
    runId,
    step: 100,
    weights: 'ema',
    sampler: 'ddim',
    variance: 'none',
    varianceRef: null,
    sampleSteps: 10,
    spacing: 'uniform',
    eta: 0,
    n: 1000,
    seed: 0,
    featureSpace: 'inception',
    metric: 'fid',
    value: 30,
    std: null,
    featuresSha256: 'ab'.repeat(32),
    refKey: 'ref-1',
    seconds: 12.5,
    ...over,
  };
}

/** Successive created_at values: results written in one millisecond would otherwise tie. */
async function tick(): Promise<void> {
  await new Promise((r) => setTimeout(r, 3));
}

describe('evaluation results', () => {
  it('stores a result and replaces it when the same setup is measured again', async () => {
    const store = freshStore();
    const run = store.runs.create(newRun());
    const a = store.evals.upsert(result(run.id, { value: 30, std: null }));
    expect(a).toMatchObject({ runId: run.id, step: 100, weights: 'ema', metric: 'fid', value: 30, std: null, n: 1000 });
    expect(a.createdAt).toMatch(/^\d{4}-/);
    await tick();
    const b = store.evals.upsert(result(run.id, { value: 28, seconds: 20, refKey: 'ref-2' }));
    expect(b.id).toBe(a.id);
    expect(store.evals.list(run.id)).toEqual([b]);
    expect(b).toMatchObject({ value: 28, seconds: 20, refKey: 'ref-2' });
    expect(b.createdAt > a.createdAt).toBe(true);
    // Any other identifying field makes another row.
    store.evals.upsert(result(run.id, { seed: 1 }));
    store.evals.upsert(result(run.id, { weights: 'raw' }));
    store.evals.upsert(result(run.id, { featureSpace: 'pixel', featuresSha256: null }));
    store.evals.upsert(result(run.id, { metric: 'kid', value: 0.01, std: 0.002 }));
    expect(store.evals.list(run.id)).toHaveLength(5);
    store.close();
  });

  it('refuses a result with a bad field, naming it, and stores nothing of a failing batch', () => {
    const store = freshStore();
    const run = store.runs.create(newRun());
    expect(() => store.evals.upsert(result(run.id, { value: Number.NaN }))).toThrow(/run #1 \(fid\): field 'value'/);
    expect(() => store.evals.upsert(result(run.id, { value: Infinity }))).toThrow(/field 'value'/);
    expect(() => store.evals.upsert(result(run.id, { featureSpace: 'clip' as never }))).toThrow(/field 'featureSpace'/);
    expect(() => store.evals.upsert(result(run.id, { sampler: 'euler' as never }))).toThrow(/field 'sampler'/);
    expect(() => store.evals.upsert(result(999))).toThrow(
      /evaluation result \(fid\): there is no run #999 in .*sadpm.db/,
    );
    const batch = [result(run.id, { sampleSteps: 10 }), result(run.id, { sampleSteps: 20, std: Number.NaN })];
    expect(() => store.evals.upsertAll(batch)).toThrow(/field 'std'/);
    expect(store.evals.list(run.id)).toEqual([]);
    expect(store.evals.upsertAll(batch.slice(0, 1))).toHaveLength(1);
    store.close();
  });

  it('lists a run and a checkpoint in a stable order', () => {
    const store = freshStore();
    const run = store.runs.create(newRun());
    const other = store.runs.create(newRun({ name: 'other' }));
    for (const step of [200, 100]) {
      for (const sampleSteps of [50, 10]) {
        store.evals.upsert(result(run.id, { step, sampleSteps, metric: 'is' }));
        store.evals.upsert(result(run.id, { step, sampleSteps }));
      }
    }
    store.evals.upsert(result(other.id));
    const key = (e: { step: number; metric: string; sampleSteps: number }) => `${e.step}:${e.metric}:${e.sampleSteps}`;
    expect(store.evals.list(run.id).map(key)).toEqual([
      '100:fid:10',
      '100:fid:50',
      '100:is:10',
      '100:is:50',
      '200:fid:10',
      '200:fid:50',
      '200:is:10',
      '200:is:50',
    ]);
    expect(store.evals.ofCheckpoint(run.id, 200).map(key)).toEqual([
      '200:fid:10',
      '200:fid:50',
      '200:is:10',
      '200:is:50',
    ]);
    expect(store.evals.ofCheckpoint(run.id, 300)).toEqual([]);
    store.close();
  });
});

describe('metric against sampling steps', () => {
  function twoRuns(): { store: RunStore; a: number; b: number } {
    const store = freshStore();
    const a = store.runs.create(newRun({ name: 'base' })).id;
    const b = store.runs.create(newRun({ name: 'sa2' })).id;
    const fid = (runId: number, step: number, sampleSteps: number, value: number, over: Partial<NewEvalResult> = {}) =>
      store.evals.upsert(result(runId, { step, sampleSteps, value, ...over }));
    // Run a: an older checkpoint, then the latest at two samplers; run b: one checkpoint.
    fid(a, 100, 10, 90);
    fid(a, 200, 100, 20);
    fid(a, 200, 10, 40);
    fid(a, 200, 10, 60, { sampler: 'ddpm', eta: 1 });
    fid(a, 200, 50, 25);
    fid(b, 200, 10, 30);
    fid(b, 200, 50, 18, { std: 0.5 });
    store.evals.upsert(result(b, { step: 200, sampleSteps: 10, metric: 'is', value: 7 }));
    return { store, a, b };
  }

  it("gives one line per run and sampling setup, at each run's latest evaluated checkpoint, by step count", () => {
    const { store, a, b } = twoRuns();
    const lines = store.evals.curves({ runIds: [a, b], metric: 'fid' });
    const brief = lines.map((l) => [l.runId, l.step, l.sampler, l.points.map((p) => [p.sampleSteps, p.value])]);
    expect(brief).toEqual([
      [
        a,
        200,
        'ddim',
        [
          [10, 40],
          [50, 25],
          [100, 20],
        ],
      ],
      [a, 200, 'ddpm', [[10, 60]]],
      [
        b,
        200,
        'ddim',
        [
          [10, 30],
          [50, 18],
        ],
      ],
    ]);
    expect(lines[2]!.points[1]).toEqual({ sampleSteps: 50, value: 18, std: 0.5 });
    expect(lines[0]).toMatchObject({ weights: 'ema', spacing: 'uniform', eta: 0, n: 1000, featureSpace: 'inception' });
    store.close();
  });

  it('filters by checkpoint, sampler and feature space; a run without results has no line', () => {
    const { store, a, b } = twoRuns();
    const none = store.runs.create(newRun({ name: 'none' })).id;
    const at100 = store.evals.curves({ runIds: [a, b, none], metric: 'fid', step: 100 });
    expect(at100.map((l) => [l.runId, l.points])).toEqual([[a, [{ sampleSteps: 10, value: 90, std: null }]]]);
    expect(store.evals.curves({ runIds: [a], metric: 'fid', sampler: 'ddpm' }).map((l) => l.sampler)).toEqual(['ddpm']);
    expect(store.evals.curves({ runIds: [a, b], metric: 'fid', featureSpace: 'pixel' })).toEqual([]);
    expect(store.evals.curves({ runIds: [a, b], metric: 'is' }).map((l) => l.runId)).toEqual([b]);
    store.close();
  });

  it('takes the latest of the same step count measured with other seeds', async () => {
    const store = freshStore();
    const a = store.runs.create(newRun()).id;
    store.evals.upsert(result(a, { seed: 5, value: 11 }));
    await tick();
    store.evals.upsert(result(a, { seed: 0, value: 12 }));
    expect(store.evals.curves({ runIds: [a], metric: 'fid' })[0]!.points.map((p) => p.value)).toEqual([12]);
    store.close();
  });
});

describe('latest metric values per run', () => {
  it('gives the latest result of each metric and feature space, and listRuns returns them on request', async () => {
    const store = freshStore();
    const a = store.runs.create(newRun({ name: 'a' })).id;
    const b = store.runs.create(newRun({ name: 'b' })).id;
    store.evals.upsert(result(a, { sampleSteps: 10, value: 40 }));
    await tick();
    store.evals.upsert(result(a, { sampleSteps: 50, value: 25, step: 200 }));
    store.evals.upsert(result(a, { featureSpace: 'pixel', featuresSha256: null, value: 3 }));
    store.evals.upsert(result(a, { metric: 'kid', value: 0.02, std: 0.001 }));
    const latest = store.evals.latest([a, b]);
    const brief = (xs: { metric: string; featureSpace: string; value: number }[]) =>
      xs.map((x) => `${x.metric}/${x.featureSpace}=${x.value}`);
    expect(brief(latest.get(a)!)).toEqual(['fid/inception=25', 'fid/pixel=3', 'kid/inception=0.02']);
    expect(latest.get(a)![0]).toMatchObject({ step: 200, sampleSteps: 50, weights: 'ema', sampler: 'ddim', n: 1000 });
    expect(latest.get(a)![2]!.std).toBe(0.001);
    expect(latest.get(b)).toEqual([]);

    const [rb, ra] = store.runs.list({ withEvals: true });
    expect(brief(ra!.latestEvals!)).toEqual(brief(latest.get(a)!));
    expect(ra!.latestEvals).toEqual(latest.get(a));
    expect(rb!.latestEvals).toEqual([]);
    // Without asking, the records carry no evaluation field.
    expect(store.runs.list()[1]).not.toHaveProperty('latestEvals');
    // Measuring the first setup again makes it the latest (by time, not by row id).
    await tick();
    store.evals.upsert(result(a, { sampleSteps: 10, value: 41 }));
    expect(brief(store.evals.latest([a]).get(a)!)[0]).toBe('fid/inception=41');
    expect(brief(store.runs.list({ withEvals: true })[1]!.latestEvals!)[0]).toBe('fid/inception=41');
    store.close();
  });

  it('a resume from an earlier step drops the results of the checkpoints after it', () => {
    const store = freshStore();
    const a = store.runs.create(newRun()).id;
    store.evals.upsert(result(a, { step: 100 }));
    store.evals.upsert(result(a, { step: 200 }));
    store.runs.rewind(a, 100);
    expect(store.evals.list(a).map((e) => e.step)).toEqual([100]);
    store.runs.delete(a, { deleteFiles: false });
    expect(store.db.prepare('SELECT COUNT(*) FROM eval_results').pluck().get()).toBe(0);
    store.close();
  });
});
