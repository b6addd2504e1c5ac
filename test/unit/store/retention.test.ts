import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planRetention } from '../../../src/store/retention';
import type { CheckpointRecord } from '../../../src/shared/records';
import { freshStore, newRun } from './helpers';

const ck = (step: number, loss?: number): CheckpointRecord => ({
  id: step,
  runId: 1,
  step,
  kind: 'full',
  path: `/c${step}`,
  bytes: step * 10,
  metrics: loss === undefined ? {} : { loss },
  createdAt: '',
});
const steps = (cs: { step: number }[]) => cs.map((c) => c.step);

describe('planRetention', () => {
  const all = [100, 200, 300, 400, 500, 600, 700].map((s) => ck(s, s === 300 ? 0.1 : 1 + s / 1000));

  it('keeps the last N', () => {
    const p = planRetention(all, { keepLast: 2 });
    expect(steps(p.keep.map((k) => k.checkpoint))).toEqual([600, 700]);
    expect(steps(p.remove)).toEqual([100, 200, 300, 400, 500]);
    expect(p.freedBytes).toBe((100 + 200 + 300 + 400 + 500) * 10);
    expect(p.keep.at(-1)!.why).toContain('latest');
  });

  it('keeps milestones, and the best by a metric', () => {
    const p = planRetention(all, { keepLast: 1, milestoneEvery: 200, bestBy: 'loss' });
    expect(steps(p.keep.map((k) => k.checkpoint))).toEqual([200, 300, 400, 600, 700]);
    const why = new Map(p.keep.map((k) => [k.checkpoint.step, k.why.join('; ')]));
    expect(why.get(300)).toMatch(/best loss/);
    expect(why.get(400)).toMatch(/milestone/);
    expect(why.get(700)).toMatch(/latest/);
  });

  it('a policy without keepLast still prunes: only the latest is kept besides milestones and best', () => {
    expect(steps(planRetention(all, { milestoneEvery: 300 }).keep.map((k) => k.checkpoint))).toEqual([300, 600, 700]);
    expect(steps(planRetention(all, { bestBy: 'loss' }).keep.map((k) => k.checkpoint))).toEqual([300, 700]);
  });

  it('the latest checkpoint is always kept, whatever the policy says; unordered input is fine', () => {
    const shuffled = [all[3]!, all[6]!, all[0]!, all[5]!];
    const p = planRetention(shuffled, { keepLast: 1, milestoneEvery: 10_000, bestBy: 'nosuchmetric' });
    expect(steps(p.keep.map((k) => k.checkpoint))).toEqual([700]);
    expect(steps(p.remove)).toEqual([100, 400, 600]);
    expect(planRetention([], { keepLast: 1 })).toEqual({ keep: [], remove: [], freedBytes: 0 });
  });

  it('best ignores checkpoints without the metric or with a non-finite value', () => {
    const cs = [ck(1, Number.NaN), ck(2), ck(3, 5), ck(4, 9)];
    expect(steps(planRetention(cs, { keepLast: 1, bestBy: 'loss' }).keep.map((k) => k.checkpoint))).toEqual([3, 4]);
  });
});

describe('prune', () => {
  it('shows the plan without deleting, then deletes rows and files', () => {
    const store = freshStore();
    const r = store.runs.create(newRun());
    const dir = join(r.runDir, 'checkpoints');
    mkdirSync(dir, { recursive: true });
    for (const s of [1, 2, 3, 4]) {
      const path = join(dir, `c${s}`);
      writeFileSync(path, Buffer.alloc(s));
      store.checkpoints.add({ runId: r.id, step: s, kind: 'full', path, bytes: s, metrics: { loss: 10 - s } });
    }
    const sample = store.samples.add({
      runId: r.id,
      checkpointId: store.checkpoints.at(r.id, 1)!.id,
      step: 1,
      sampler: 'ddim',
      sampleSteps: 5,
      spacing: null,
      eta: null,
      seed: 0,
      n: 1,
      ema: false,
      path: '/s',
    });
    const plan = store.checkpoints.planPrune(r.id, { keepLast: 2 });
    expect(steps(plan.remove)).toEqual([1, 2]);
    expect(store.checkpoints.list(r.id)).toHaveLength(4);
    expect(readdirSync(dir)).toHaveLength(4);
    const done = store.checkpoints.prune(r.id, { keepLast: 2 });
    expect(done.freedBytes).toBe(3);
    expect(steps(store.checkpoints.list(r.id))).toEqual([3, 4]);
    expect(readdirSync(dir).sort()).toEqual(['c3', 'c4']);
    // A sample of a pruned checkpoint stays, detached.
    expect(store.samples.get(sample.id)!.checkpointId).toBeNull();
    // A file already gone is not an error.
    store.checkpoints.add({
      runId: r.id,
      step: 5,
      kind: 'full',
      path: join(dir, 'never-written'),
      bytes: 0,
      metrics: {},
    });
    expect(() => store.checkpoints.prune(r.id, { keepLast: 1 })).not.toThrow();
    expect(steps(store.checkpoints.list(r.id))).toEqual([5]);
    expect(existsSync(join(dir, 'c4'))).toBe(false);
    store.close();
  });

  it('retention stored with a run is returned', () => {
    const store = freshStore();
    const r = store.runs.create(newRun({ retention: { keepLast: 3, bestBy: 'loss' } }));
    expect(store.runs.retention(r.id)).toEqual({ keepLast: 3, bestBy: 'loss' });
    store.runs.setRetention(r.id, null);
    expect(store.runs.retention(r.id)).toBeNull();
    store.close();
  });
});
