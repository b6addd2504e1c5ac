import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { RunStore } from '../../../src/store/runStore';
import { RunRecorder } from '../../../src/store/recorder';
import { dataLayout } from '../../../src/store/dataDir';
import { RunFilterSchema } from '../../../src/shared/records';
import type { ProgressMessage } from '../../../src/shared/engineMessages';
import { freshStore, newRun, tmpDir } from './helpers';

function progress(step: number, loss: number, ips = 10): ProgressMessage {
  return {
    type: 'progress',
    step,
    totalSteps: 100,
    loss,
    simple: loss * 0.75,
    sa: loss * 0.25,
    gradNorm: 1,
    lr: 1e-3,
    imagesPerSec: ips,
    msPerStep: 5,
    etaSec: 1,
    memory: { numTensors: 1, numBytes: 1 },
  };
}

/** Six runs: λ ∈ {0, 0.5, 1} × seed ∈ {0, 1}, lr and τ varied, with losses 1 + λ + seed/10. */
function sixRuns(store: RunStore): number[] {
  const ids: number[] = [];
  for (const lambda of [0, 0.5, 1]) {
    for (const seed of [0, 1]) {
      const cfg = { lambda, seed, lr: lambda === 0.5 ? 5e-4 : 2e-4, tau: seed ? 'paper' : 'official', batch: 8 };
      // Sorting and conditions read the config's fields from columns the store sets on create and on update.
      const run = store.runs.create(newRun({ name: `l${lambda}-s${seed}`, cfg, tags: seed ? ['b'] : ['a', 'sweep'] }));
      store.metrics.append(run.id, [{ step: 1, name: 'loss', value: 9 }]);
      store.runs.setProgress(run.id, 5, 1 + lambda + seed / 10);
      ids.push(run.id);
    }
  }
  return ids;
}

describe('runs as an experiment table', () => {
  it('sorts by any column, config fields included, ties newest first and missing values last', () => {
    const store = freshStore();
    const ids = sixRuns(store);
    const names = (f: Parameters<typeof store.runs.list>[0]) => store.runs.list(f).map((r) => r.name);
    expect(names({ sort: { key: 'loss', dir: 'asc' } })).toEqual([
      'l0-s0',
      'l0-s1',
      'l0.5-s0',
      'l0.5-s1',
      'l1-s0',
      'l1-s1',
    ]);
    expect(names({ sort: { key: 'lr', dir: 'desc' } }).slice(0, 2)).toEqual(['l0.5-s1', 'l0.5-s0']);
    expect(names({ sort: { key: 'tau', dir: 'asc' }, limit: 3 })).toEqual(['l1-s0', 'l0.5-s0', 'l0-s0']);
    // Paging follows the order.
    expect(names({ sort: { key: 'loss', dir: 'desc' }, limit: 2, offset: 2 })).toEqual(['l0.5-s1', 'l0.5-s0']);
    // An evaluation metric's column: runs without a result come last in either direction.
    const evalRow = (runId: number, value: number) => ({
      runId,
      step: 5,
      weights: 'ema' as const,
      sampler: 'ddim' as const,
      sampleSteps: 10,
      spacing: 'uniform' as const,
      eta: 0,
      n: 100,
      seed: 0,
      featureSpace: 'inception' as const,
      metric: 'fid',
      value,
      std: null,
      featuresSha256: null,
      refKey: 'ref',
      seconds: 1,
      variance: 'none',
      varianceRef: null,
    });
    store.evals.upsert(evalRow(ids[0]!, 30));
    store.evals.upsert(evalRow(ids[3]!, 20));
    for (const dir of ['asc', 'desc'] as const) {
      const order = store.runs.list({ sort: { key: 'eval:fid:inception', dir } }).map((r) => r.id);
      expect(order.slice(0, 2)).toEqual(dir === 'asc' ? [ids[3], ids[0]] : [ids[0], ids[3]]);
    }
    store.close();
  });

  it('filters by conditions on columns, combined with the older filters', () => {
    const store = freshStore();
    sixRuns(store);
    const names = (f: Parameters<typeof store.runs.list>[0]) =>
      store.runs
        .list(f)
        .map((r) => r.name)
        .sort();
    expect(
      names({
        where: [
          { key: 'lambda', op: 'ge', value: 0.5 },
          { key: 'seed', op: 'eq', value: 1 },
        ],
      }),
    ).toEqual(['l0.5-s1', 'l1-s1']);
    expect(
      names({
        where: [
          { key: 'lr', op: 'lt', value: 3e-4 },
          { key: 'tau', op: 'eq', value: 'paper' },
        ],
      }),
    ).toEqual(['l0-s1', 'l1-s1']);
    expect(names({ where: [{ key: 'lambda', op: 'in', value: [0, 1] }], tags: ['sweep'] })).toEqual(['l0-s0', 'l1-s0']);
    expect(names({ where: [{ key: 'tags', op: 'contains', value: 'swe' }] })).toEqual(['l0-s0', 'l0.5-s0', 'l1-s0']);
    expect(names({ where: [{ key: 'tags', op: 'ne', value: 'b' }] })).toEqual(['l0-s0', 'l0.5-s0', 'l1-s0']);
    expect(names({ where: [{ key: 'name', op: 'contains', value: '0.5' }] })).toEqual(['l0.5-s0', 'l0.5-s1']);
    // LIKE wildcards in the text are plain characters.
    expect(names({ where: [{ key: 'name', op: 'contains', value: '%' }] })).toEqual([]);
    expect(store.runs.count({ where: [{ key: 'lambda', op: 'gt', value: 0 }] })).toBe(4);
    // A config changed later (a resume with more steps) is what the columns show.
    const first = store.runs.list({ sort: { key: 'id', dir: 'asc' }, limit: 1 })[0]!;
    store.runs.updateConfig(first.id, { ...first.config, lr: 9e-4, steps: 50 });
    expect(names({ where: [{ key: 'lr', op: 'gt', value: 8e-4 }] })).toEqual([first.name]);
    // A value of the wrong kind names the column.
    expect(() => store.runs.list({ where: [{ key: 'lambda', op: 'ge', value: 'lots' }] })).toThrow(
      /where\.lambda.*number/,
    );
    store.close();
  });

  it('the contract refuses a column the table does not have', () => {
    expect(RunFilterSchema.safeParse({ sort: { key: 'lambda', dir: 'asc' } }).success).toBe(true);
    expect(RunFilterSchema.safeParse({ sort: { key: 'eval:fid:inception', dir: 'asc' } }).success).toBe(true);
    const bad = RunFilterSchema.safeParse({ sort: { key: 'config; DROP TABLE runs', dir: 'asc' } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toMatch(/expected a run column/);
    expect(RunFilterSchema.safeParse({ where: [{ key: 'lr', op: 'like', value: 1 }] }).success).toBe(false);
  });

  it('groups by a column with mean ± std of results over the group (e.g. λ over seeds)', () => {
    const store = freshStore();
    sixRuns(store);
    const groups = store.runs.groups({}, 'lambda', ['loss', 'seed']);
    expect(groups.map((g) => [g.value, g.count])).toEqual([
      [0, 2],
      [0.5, 2],
      [1, 2],
    ]);
    expect(groups[1]!.stats.loss!.mean).toBeCloseTo(1.55);
    // Sample standard deviation of {1.5, 1.6}.
    expect(groups[1]!.stats.loss!.std).toBeCloseTo(Math.SQRT1_2 * 0.1);
    expect(groups[1]!.stats.seed).toEqual({ mean: 0.5, std: expect.closeTo(Math.SQRT1_2), n: 2 });
    const byTau = store.runs.groups({ where: [{ key: 'lambda', op: 'gt', value: 0 }] }, 'tau', ['loss']);
    expect(byTau.map((g) => [g.value, g.count])).toEqual([
      ['official', 2],
      ['paper', 2],
    ]);
    expect(byTau[0]!.stats.loss!.mean).toBeCloseTo(1.75);
    store.close();
  });

  it("keeps each run's last loss terms, throughput, final gap and duration for the listing", () => {
    const store = freshStore();
    const run = store.runs.create(newRun());
    store.runs.markRunning(run.id, { pid: process.pid, start: 'x' });
    const rec = new RunRecorder(store, run.id, { flushMs: 1e9 });
    rec.handle(progress(1, 4, 12));
    rec.handle(progress(2, 2, 14));
    rec.handle({ type: 'gap', step: 2, t0: 3, t: [2, 1], meanAbs: [0.5, 0.25], l2: [1, 1], signedMean: [0, 0] });
    rec.flush();
    const listed = store.runs.list()[0]!;
    expect(listed.summary).toMatchObject({ lastSimple: 1.5, lastSa: 0.5, imagesPerSec: 14, finalGap: 0.25 });
    expect(listed.summary!.durationSec).toBeGreaterThanOrEqual(0);
    expect(listed.summary!.durationSec).toBeLessThan(60);
    // The EMA curve of the same step does not displace the training monitor's; a later step does.
    store.gaps.add({
      runId: run.id,
      step: 2,
      t0: 3,
      weights: 'ema',
      t: [2, 1],
      meanAbs: [9, 9],
      l2: [1, 1],
      signedMean: [0, 0],
    });
    expect(store.runs.get(run.id)!.summary!.finalGap).toBe(0.25);
    store.gaps.add({ runId: run.id, step: 4, t0: 3, t: [2, 1], meanAbs: [0.3, 0.125], l2: [1, 1], signedMean: [0, 0] });
    expect(store.runs.get(run.id)!.summary!.finalGap).toBe(0.125);
    // Sorting by the gap uses the same value.
    expect(store.runs.list({ sort: { key: 'gap', dir: 'asc' } })[0]!.id).toBe(run.id);
    // A rewind before the later curve brings the earlier value back.
    store.runs.rewind(run.id, 3);
    expect(store.runs.get(run.id)!.summary!.finalGap).toBe(0.25);
    store.close();
  });

  it('fills the new columns of runs recorded before them (schema 5)', () => {
    const root = tmpDir();
    const store = RunStore.open(root);
    const run = store.runs.create(newRun({ cfg: { lr: 3e-4 } }));
    store.metrics.append(run.id, [
      { step: 1, name: 'simple', value: 3 },
      { step: 2, name: 'simple', value: 2 },
      { step: 2, name: 'imagesPerSec', value: 40 },
    ]);
    store.gaps.add({ runId: run.id, step: 2, t0: 3, t: [2, 1], meanAbs: [0.5, 0.2], l2: [1, 1], signedMean: [0, 0] });
    store.close();
    const raw = new Database(dataLayout(root).db);
    raw.exec('DROP TABLE metric_buckets; DROP TABLE metric_series;');
    for (const c of [
      'last_simple',
      'last_sa',
      'last_ips',
      'final_gap',
      'cfg_tau',
      'cfg_schedule',
      'cfg_batch',
      'cfg_lr',
    ]) {
      raw.exec(`ALTER TABLE runs DROP COLUMN ${c}`);
    }
    raw.pragma('user_version = 5');
    raw.close();
    const again = RunStore.open(root);
    expect(again.runs.get(run.id)!.summary).toMatchObject({
      lastSimple: 2,
      lastSa: null,
      imagesPerSec: 40,
      finalGap: 0.2,
    });
    expect(again.runs.list({ where: [{ key: 'lr', op: 'eq', value: 3e-4 }] }).map((r) => r.id)).toEqual([run.id]);
    again.close();
  });
});
