/**
 * Issue 12/15: the strip over training end to end with the real engine (in process) on a tiny run: one fixed noise
 * at every checkpoint (identical weights give identical columns, other weights other columns), columns cached as
 * sample records, a cancel that keeps the columns already made, bad requests named by their field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { resolveRunConfig } from '../../src/shared/config';
import { train } from '../../src/engine/train/trainer';
import { checkpointFileName, readCheckpoint, writeCheckpoint } from '../../src/engine/train/checkpoint';
import { gridLayout, gridScale, readGridPixels } from '../../src/engine/render/grids';
import { RunStore } from '../../src/store/runStore';
import { RunRecorder } from '../../src/store/recorder';
import { planStrip, sampleStrip } from '../../src/app/useCases/sampleStrip';
import { columnPixels } from '../../src/app/useCases/stripFiles';
import { FieldError } from '../../src/shared/errors';
import type { EngineCommand } from '../../src/shared/engineMessages';
import type { RunRecord } from '../../src/shared/records';
import { inProcessSpawner } from './inProcessEngine';

const dir = mkdtempSync(join(tmpdir(), 'sadpm-strip-'));
let store: RunStore;
let run: RunRecord;
const commands: EngineCommand[] = [];
const deps = () => ({ store, spawn: inProcessSpawner(commands) });
const strips = () => commands.filter((c) => c.cmd === 'strip');
const base = { n: 2, sampler: 'ddim' as const, steps: 4, spacing: 'uniform' as const, eta: 0, seed: 3, ema: false };

beforeAll(async () => {
  await initBackend('auto');
  store = RunStore.open(dir);
  const cfg = resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    T: 20,
    batch: 2,
    steps: 2,
    logEvery: 1,
    checkpointEvery: 1,
    sampleEvery: 0,
    gapEvery: 0,
    gapT0: 4,
    gapBatch: 2,
    sampleSteps: 4,
    sampleN: 2,
  });
  run = store.runs.create({ name: 'tiny-strip', config: cfg, appVersion: 'test' });
  store.runs.markRunning(run.id, { pid: process.pid, start: '' });
  const rec = new RunRecorder(store, run.id, { flushMs: 10 });
  await train(cfg, { runDir: run.runDir, sink: (m) => rec.handle(m), signal: new AbortController().signal });
  await rec.idle();
  // Step 3 holds exactly step 2's weights; step 4 other weights (step 2's, scaled).
  const two = readCheckpoint(store.checkpoints.at(run.id, 2)!.path);
  const add = (step: number, scale: number) => {
    const path = join(run.runDir, 'checkpoints', checkpointFileName(step));
    const params = two.params.map((p) => p.map((v) => v * scale));
    const bytes = writeCheckpoint(path, { ...two, step, params, ema: params });
    store.checkpoints.add({ runId: run.id, step, kind: 'full', path, bytes, metrics: {} });
  };
  add(3, 1);
  add(4, 1.5);
  run = store.runs.get(run.id)!;
}, 120_000);

afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const P = 16 * 16 * 3;

describe('a strip over training (in-process engine)', () => {
  it('samples every checkpoint from the same noise; writes the strip PNG; a second call samples nothing', async () => {
    expect(planStrip(store, run, base).map((c) => [c.step, c.sample])).toEqual([
      [1, null],
      [2, null],
      [3, null],
      [4, null],
    ]);
    const progress: [number, number][] = [];
    const first = await sampleStrip(deps(), run, base, { onProgress: (d, t) => progress.push([d, t]) });
    expect(first.sampled).toEqual([1, 2, 3, 4]);
    expect(strips()).toHaveLength(1);
    expect(progress.at(-1)).toEqual([16, 16]);
    const cols = first.columns.map((c) => columnPixels(c.sample!.path, 2, run.config));
    // Identical weights, identical columns: the noise does not depend on the checkpoint.
    expect(Buffer.from(cols[2]!).equals(Buffer.from(cols[1]!))).toBe(true);
    // Other weights, other columns.
    const diff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
    expect(diff(cols[3]!, cols[1]!)).toBeGreaterThan(5);
    // The columns are ordinary sample records of their checkpoints.
    for (const c of first.columns) {
      expect(store.samples.ofCheckpoint(c.checkpointId).map((s) => s.id)).toContain(c.sample!.id);
      expect(c.sample).toMatchObject({ step: c.step, n: 2, seed: 3, sampler: 'ddim', sampleSteps: 4, ema: false });
    }
    // The strip: rows = noise image, columns = checkpoints (labelled with their steps).
    const layout = { cols: 4, scale: gridScale(16), colLabels: ['1', '2', '3', '4'], caption: captionOf() };
    const png = readFileSync(first.path);
    const px = readGridPixels(png, 8, 16, 16, 3, layout);
    for (let r = 0; r < 2; r++) {
      for (let j = 0; j < 4; j++) {
        const cell = px.subarray((r * 4 + j) * P, (r * 4 + j + 1) * P);
        expect(Buffer.from(cell).equals(Buffer.from(cols[j]!.subarray(r * P, (r + 1) * P)))).toBe(true);
      }
    }
    expect(gridLayout(8, 16, 16, layout).rows).toBe(2);
    const side = JSON.parse(readFileSync(first.sidecar, 'utf8'));
    expect(side.columns.map((c: { step: number }) => c.step)).toEqual([1, 2, 3, 4]);

    const before = statSync(first.path).mtimeMs;
    const again = await sampleStrip(deps(), run, base);
    expect(again.sampled).toEqual([]);
    expect(strips()).toHaveLength(1);
    expect(again.columns.map((c) => c.sample!.id)).toEqual(first.columns.map((c) => c.sample!.id));
    expect(readFileSync(again.path).equals(png)).toBe(true);
    expect(statSync(again.path).mtimeMs).toBeGreaterThanOrEqual(before);
  });

  it('every k-th checkpoint (the latest always), then all of them: only the missing ones are sampled', async () => {
    const s = { ...base, seed: 4 };
    const some = await sampleStrip(deps(), run, { ...s, every: 2 });
    expect(some.columns.map((c) => c.step)).toEqual([1, 3, 4]);
    expect(some.sampled).toEqual([1, 3, 4]);
    expect(some.path).toMatch(/strip-ddim4-seed4-n2-every2\.png$/);
    const all = await sampleStrip(deps(), run, s);
    expect(all.sampled).toEqual([2]);
    const chosen = await sampleStrip(deps(), run, { ...s, checkpoints: [2, 4] });
    expect(chosen.sampled).toEqual([]);
    expect(chosen.columns.map((c) => c.step)).toEqual([2, 4]);
    // EMA weights are other columns.
    expect(planStrip(store, run, { ...s, ema: true }).every((c) => c.sample === null)).toBe(true);
  });

  it('cancel keeps the columns already sampled; the next call samples only the rest', async () => {
    const s = { ...base, seed: 9, steps: 10 };
    const ctl = new AbortController();
    const call = sampleStrip(deps(), run, s, {
      signal: ctl.signal,
      // The first column is 10 steps: cancel once it is done.
      onProgress: (done) => done >= 10 && ctl.abort(),
    });
    await expect(call).rejects.toThrow(/cancelled \(the \d column\(s\) sampled before it are kept\)/);
    const kept = planStrip(store, run, s).filter((c) => c.sample !== null);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThan(4);
    const rest = await sampleStrip(deps(), run, s);
    expect(rest.sampled).toEqual([1, 2, 3, 4].filter((step) => !kept.some((c) => c.step === step)));
  });

  it('refuses bad requests by field before any engine work', async () => {
    const n = strips().length;
    const field = async (over: object) => {
      try {
        await sampleStrip(deps(), run, { ...base, ...over });
      } catch (err) {
        return err instanceof FieldError ? [err.field, err.message] : ['(not a FieldError)', String(err)];
      }
      return ['(accepted)'];
    };
    expect(await field({ steps: 21 })).toEqual([
      'steps',
      'steps: this run has T = 20 diffusion steps; give 20 or fewer',
    ]);
    expect((await field({ every: 0 }))[0]).toBe('every');
    expect((await field({ n: 65 }))[0]).toBe('n');
    expect(await field({ checkpoints: [2, 7] })).toEqual([
      'checkpoints',
      'checkpoints: the run has no checkpoint at step 7 (it has 1, 2, 3, 4)',
    ]);
    expect((await field({ out: join(dir, 'strip.jpg') }))[0]).toBe('out');
    expect(strips()).toHaveLength(n);
  });
});

function captionOf(): string {
  return `RUN ${run.id}, ddim 4 STEPS, SEED 3, RAW. COLUMNS: TRAINING STEP`;
}
