/**
 * The evaluation use case end to end on a tiny trained run, in the pixel feature space, with the real engine jobs
 * (in process): results stored, the table printed, the reference statistics computed once and then taken from the
 * cache; bad requests refused before any engine work.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { initBackend } from '../../src/engine/backend';
import { RunStore } from '../../src/store/runStore';
import { runCheckpoint } from '../../src/app/useCases/checkpointTarget';
import { evaluateCheckpoint } from '../../src/app/useCases/evaluate';
import { printEvalTable } from '../../src/cli/commands/eval';
import { decodeSummary } from '../../src/engine/metrics';
import { FieldError } from '../../src/shared/errors';
import type { EngineCommand } from '../../src/shared/engineMessages';
import { inProcessSpawner } from './inProcessEngine';
import { trainTinyRun } from './tinyRun';

const dir = mkdtempSync(join(tmpdir(), 'sadpm-evaluate-'));
let store: RunStore;
const commands: EngineCommand[] = [];
const deps = () => ({ store, spawn: inProcessSpawner(commands), env: {} });
const settings = {
  metrics: ['fid', 'kid', 'pr'] as ('fid' | 'kid' | 'pr')[],
  n: 16,
  sampler: 'ddim' as const,
  steps: [2, 4],
  refN: 48,
};

beforeAll(async () => {
  await initBackend('auto');
  store = RunStore.open(dir);
  await trainTinyRun(store, 'tiny-eval');
}, 120_000);

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('evaluate a checkpoint (pixel space, in-process engine)', () => {
  it('measures each step count, stores the results, prints the table; a second run uses the cached reference', async () => {
    const run = store.runs.list({})[0]!;
    const target = runCheckpoint(store, run, 'latest');
    const progress: [number, number][] = [];
    const t0 = performance.now();
    const first = await evaluateCheckpoint(deps(), target, settings, { onProgress: (d, t) => progress.push([d, t]) });
    const firstMs = performance.now() - t0;
    expect(first.featureSpace).toBe('pixel');
    expect(first.space.id).toBe('pixel-8x8');
    expect(first.space.label).toMatch(/pixel space .*not comparable/);
    expect(first.note).toMatch(/pt_inception-2015-12-05-6726825d\.pth/);
    expect(first.refCached).toBe(false);
    expect(first.refCount).toBe(48);
    expect(first.rows.map((r) => r.sampleSteps)).toEqual([2, 4]);
    for (const r of first.rows) {
      expect(r.fid).toBeGreaterThan(0);
      expect(r.kid).not.toBeNull();
      expect(r.precision).toBeGreaterThanOrEqual(0);
      expect(r.recall).toBeLessThanOrEqual(1);
      expect(r.is).toBeNull();
      const png = PNG.sync.read(readFileSync(r.previewPath));
      // 16 images of 16 px at scale 4 in a 4x4 grid with 2 px padding
      expect([png.width, png.height]).toEqual([4 * 66 + 2, 4 * 66 + 2]);
    }
    // Progress counts the reference images, then the generated ones, ending at the total.
    expect(progress.at(-1)).toEqual([48 + 32, 48 + 32]);
    // 2 step counts x (fid, kid, precision, recall)
    const stored = store.evals.list(run.id);
    expect(stored).toHaveLength(8);
    expect(new Set(stored.map((e) => e.featureSpace))).toEqual(new Set(['pixel']));
    expect(stored.find((e) => e.metric === 'kid')!.std).toBeGreaterThanOrEqual(0);
    expect(stored.every((e) => e.refKey === first.refKey && e.featuresSha256 === null)).toBe(true);
    const ref = store.refStats.get(first.refKey)!;
    expect(decodeSummary(readFileSync(ref.path)).count).toBe(48);
    expect(
      store.runs
        .list({ withEvals: true })[0]!
        .latestEvals!.map((e) => e.metric)
        .sort(),
    ).toEqual(['fid', 'kid', 'precision', 'recall']);

    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      printEvalTable(first);
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('\n')).toMatch(/feature space: pixel space/);
    expect(lines.find((l) => l.startsWith('steps'))).toMatch(
      /FID\[pixel\]\s+KID\[pixel\]\s+precision\[pixel\]\s+recall\[pixel\]/,
    );
    expect(lines.filter((l) => /^[24]\s/.test(l))).toHaveLength(2);

    const refJobs = () => commands.filter((c) => c.cmd === 'refStats').length;
    expect(refJobs()).toBe(1);
    const t1 = performance.now();
    const again = await evaluateCheckpoint(deps(), target, { ...settings, seed: 1 }, {});
    const againMs = performance.now() - t1;
    expect(again.refCached).toBe(true);
    expect(again.refKey).toBe(first.refKey);
    expect(refJobs()).toBe(1);
    // Another seed is another measurement: stored beside the first, not over it.
    expect(store.evals.list(run.id)).toHaveLength(16);
    console.log(
      `evaluate (n=16, steps 2,4, pixel): ${firstMs.toFixed(0)} ms with the reference pass, ${againMs.toFixed(0)} ms cached`,
    );
  }, 120_000);

  it('refuses what the run or the feature space cannot do, before any engine starts', async () => {
    const run = store.runs.list({})[0]!;
    const target = runCheckpoint(store, run, 'latest');
    const before = commands.length;
    const fails = (over: object, env: NodeJS.ProcessEnv = {}) =>
      evaluateCheckpoint({ ...deps(), env }, target, { ...settings, ...over });
    await expect(fails({ steps: [2, 50] })).rejects.toThrow(/steps: this run has T = 20 diffusion steps/);
    await expect(fails({ metrics: ['fid', 'is'] })).rejects.toThrow(
      /metrics: the Inception Score needs the Inception classifier/,
    );
    await expect(fails({ refN: 5000 })).rejects.toThrow(/refN: the run's dataset has 4096 images/);
    await expect(fails({ n: 1 })).rejects.toBeInstanceOf(FieldError);
    const missing = join(dir, 'nope.pth');
    await expect(fails({}, { SADPM_INCEPTION_WEIGHTS: missing })).rejects.toThrow(
      new RegExp(`${missing} \\(from SADPM_INCEPTION_WEIGHTS\\): no such file.*Nothing is downloaded`),
    );
    const wrong = join(dir, 'wrong.pth');
    writeFileSync(wrong, 'not the weights');
    const err = await evaluateCheckpoint(deps(), target, settings, { inception: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).field).toBe('inception');
    expect((err as Error).message).toMatch(/does not start with 6726825d/);
    expect(commands.length).toBe(before);
  });
});
