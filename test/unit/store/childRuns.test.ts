import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseCovConfig } from '../../../src/shared/covConfig';
import { RunRecordSchema } from '../../../src/shared/records';
import { resolveRunConfig } from '../../../src/shared/config';
import type { RunStore } from '../../../src/store/runStore';
import { freshStore, newRun } from './helpers';

function covRun(store: RunStore, parentId: number, name = 'npr head') {
  const parent = store.runs.get(parentId)!;
  const cov = parseCovConfig({
    kind: 'npr',
    steps: 300,
    base: { runDir: parent.runDir, checkpoint: join(parent.runDir, 'ck'), step: 10 },
  });
  return store.runs.create(newRun({ name, kind: 'cov', parentId, cov, cfg: parent.config as never }));
}

describe('covariance runs: children of a training run', () => {
  it('records kind, parent and the cov config; a training run has none; the base config stays the config', () => {
    const store = freshStore();
    const base = store.runs.create(newRun({ name: 'base', cfg: { steps: 10 } }));
    expect(base).toMatchObject({ kind: 'train', parentId: null, cov: null });
    const child = covRun(store, base.id);
    expect(child).toMatchObject({ kind: 'cov', parentId: base.id, totalSteps: 300 });
    expect(child.cov).toMatchObject({ kind: 'npr', steps: 300, lr: 1e-4, base: { step: 10, ema: true } });
    expect(child.config).toEqual(base.config);
    expect(store.runs.get(child.id)).toEqual(child);
    // More steps on resume: the cov config's steps are the run's total.
    store.runs.updateCov(child.id, { ...child.cov!, steps: 500 });
    expect(store.runs.get(child.id)).toMatchObject({ totalSteps: 500, cov: { steps: 500 } });
    store.close();
  });

  it('a record with a full RunConfig and a cov config passes the contract schema', () => {
    const store = freshStore();
    const base = store.runs.create(newRun({ cfg: resolveRunConfig({ steps: 10 }) as never }));
    const child = covRun(store, base.id);
    expect(RunRecordSchema.parse(child)).toEqual(child);
    expect(RunRecordSchema.parse(store.runs.get(base.id))).toMatchObject({ kind: 'train', cov: null });
    store.close();
  });

  it('lists by kind and by parent', () => {
    const store = freshStore();
    const a = store.runs.create(newRun({ name: 'a' }));
    const b = store.runs.create(newRun({ name: 'b' }));
    covRun(store, a.id, 'a-npr');
    covRun(store, a.id, 'a-sn');
    covRun(store, b.id, 'b-npr');
    const names = (f: Parameters<RunStore['runs']['list']>[0]) => store.runs.list(f).map((r) => r.name);
    expect(names({})).toEqual(['b-npr', 'a-sn', 'a-npr', 'b', 'a']);
    expect(names({ kind: 'train' })).toEqual(['b', 'a']);
    expect(names({ kind: 'cov' })).toEqual(['b-npr', 'a-sn', 'a-npr']);
    expect(names({ parentId: a.id })).toEqual(['a-sn', 'a-npr']);
    expect(names({ parentId: a.id, text: 'sn' })).toEqual(['a-sn']);
    expect(store.runs.count({ kind: 'cov', parentId: b.id })).toBe(1);
    store.close();
  });

  it('refuses a cov run without a parent or config, with a missing parent, or on another cov run', () => {
    const store = freshStore();
    const base = store.runs.create(newRun({ name: 'base' }));
    const cov = covRun(store, base.id).cov!;
    expect(() => store.runs.create(newRun({ name: 'x', kind: 'cov', cov }))).toThrow(
      /run 'x': a 'cov' run needs parentId/,
    );
    expect(() => store.runs.create(newRun({ name: 'x', kind: 'cov', parentId: base.id }))).toThrow(
      /needs parentId and cov/,
    );
    expect(() => store.runs.create(newRun({ name: 'x', kind: 'cov', parentId: 99, cov }))).toThrow(
      /run 'x': its parent run #99 does not exist/,
    );
    const child = store.runs.list({ kind: 'cov' })[0]!;
    expect(() => store.runs.create(newRun({ name: 'x', kind: 'cov', parentId: child.id, cov }))).toThrow(
      /parent run #2 is not a training run/,
    );
    expect(() => store.runs.create(newRun({ name: 'x', parentId: base.id }))).toThrow(/only a 'cov' run has a parent/);
    expect(store.runs.count()).toBe(2);
    store.close();
  });

  it('deleting the base run deletes its cov runs (rows and, when asked, folders)', () => {
    const store = freshStore();
    const base = store.runs.create(newRun({ name: 'base' }));
    const other = store.runs.create(newRun({ name: 'other' }));
    const child = covRun(store, base.id);
    const otherChild = covRun(store, other.id);
    store.metrics.append(child.id, [{ step: 1, name: 'loss', value: 1 }]);
    for (const r of [base, child, otherChild]) mkdirSync(r.runDir, { recursive: true });
    store.runs.delete(base.id, { deleteFiles: true });
    expect(store.runs.get(child.id)).toBeUndefined();
    expect(existsSync(base.runDir)).toBe(false);
    expect(existsSync(child.runDir)).toBe(false);
    expect(store.metrics.series(child.id, 'loss').total).toBe(0);
    expect(store.runs.list().map((r) => r.name)).toEqual(['npr head', 'other']);
    expect(existsSync(otherChild.runDir)).toBe(true);
    // Deleting a child alone leaves its parent.
    store.runs.delete(otherChild.id, { deleteFiles: false });
    expect(store.runs.get(other.id)).toBeDefined();
    expect(existsSync(otherChild.runDir)).toBe(true);
    store.close();
  });
});
