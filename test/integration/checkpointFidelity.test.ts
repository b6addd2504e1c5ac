/**
 * A checkpoint must hold the live weights of the step it names, on the default backend with the fast
 * kernels on (issue 10, item 1: the optimiser's in-place buffer copies left tfjs serving weights it
 * had cached at the first read, so every checkpoint after a process's first held stale weights).
 * Resume is checked from later checkpoints, not only the first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { kernels, overrideKernelSet } from '../../src/engine/gpu/registry';
import { WINOGRAD_MODE, winogradPays } from '../../src/engine/gpu/winograd';
import { resolveRunConfig, type RunConfig } from '../../src/shared/config';
import { train, TrainState, trainStep } from '../../src/engine/train/trainer';
import { findCheckpoint, listCheckpoints, readCheckpoint } from '../../src/engine/train/checkpoint';
import { loadDataset, BatchSampler, gapImages, trainingSampler } from '../../src/engine/data/loader';

function micro(over: Record<string, unknown> = {}): RunConfig {
  return resolveRunConfig({
    preset: 'tiny',
    dataset: 'builtin:shapes',
    imageSize: 16,
    channels: 3,
    batch: 2,
    T: 100,
    k: 2,
    lambda: 1,
    lr: 2e-3,
    dropout: 0.1,
    emaDecay: 0.9,
    logEvery: 1,
    checkpointEvery: 3,
    gapT0: 10,
    gapBatch: 2,
    steps: 12,
    ...over,
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sadpm-ckfid-'));

function joined(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

let backendName = '';

beforeAll(async () => {
  const info = await initBackend('auto');
  backendName = info.name;
  console.log(
    `checkpoint fidelity on ${info.name} (${info.adapter.device || info.adapter.description}), kernel set ${kernels().name}`,
  );
});

describe('checkpoints hold the live weights', () => {
  it('runs on the default backend with the fast kernels on where it is WebGPU', () => {
    // The hazard lives on the WebGPU fast path; this machine's default must exercise it when it has one.
    if (backendName === 'webgpu') expect(kernels().name).toMatch(/^wgsl/);
  });

  it('every snapshot equals the live master weights at its step, and weights change between snapshots', async () => {
    const cfg = micro();
    const ds = loadDataset(cfg.dataset);
    const state = new TrainState(cfg);
    const sampler = new BatchSampler(ds, cfg.seed);
    let previous: Float32Array | null = null;
    try {
      for (let step = 1; step <= 9; step++) {
        const s = trainStep(state, ds, sampler, step);
        for (const t of Object.values(s)) t.dispose();
        if (step % 3 !== 0) continue;
        const snap = await state.snapshot(backendName, {});
        const live = (await state.adam.master.data()) as Float32Array;
        const params = joined(snap.params);
        expect(maxAbsDiff(params, live), `step ${step}: checkpoint weights vs live weights`).toBe(0);
        if (previous)
          expect(
            maxAbsDiff(params, previous),
            `step ${step}: weights did not change since the last snapshot`,
          ).toBeGreaterThan(0);
        previous = params;
      }
    } finally {
      state.dispose();
    }
  });

  it('resume from the 2nd and 3rd checkpoint equals the uninterrupted run (loss per step and final weights)', async () => {
    const fullDir = tmp();
    const full = await train(micro(), { runDir: fullDir, sink: () => {}, skipFinalArtifacts: true });
    expect(listCheckpoints(fullDir).map((c) => c.step)).toEqual([3, 6, 9, 12]);
    const finalRef = readCheckpoint(findCheckpoint(fullDir, 12).path);
    for (const from of [6, 9]) {
      // A fresh run folder holding the uninterrupted run's checkpoint `from` as its latest.
      const resumed = await train(micro(), {
        runDir: tmp(),
        sink: () => {},
        resumeFrom: findCheckpoint(fullDir, from).path,
        skipFinalArtifacts: true,
      });
      expect(resumed.history.map((h) => h.step)).toEqual(Array.from({ length: 12 - from }, (_, i) => from + 1 + i));
      for (const h of resumed.history) {
        const ref = full.history.find((f) => f.step === h.step)!;
        expect(
          Math.abs(h.loss - ref.loss) / Math.abs(ref.loss),
          `resume from ${from}: loss at step ${h.step}`,
        ).toBeLessThan(1e-5);
      }
      expect(resumed.step).toBe(12);
    }
    // Final weights of a resume from the 3rd checkpoint against the uninterrupted run's.
    const dir = tmp();
    await train(micro(), {
      runDir: dir,
      sink: () => {},
      resumeFrom: findCheckpoint(fullDir, 9).path,
      skipFinalArtifacts: true,
    });
    const mine = readCheckpoint(findCheckpoint(dir, 12).path);
    expect(maxAbsDiff(joined(mine.params), joined(finalRef.params))).toBeLessThan(1e-5);
    expect(maxAbsDiff(joined(mine.ema), joined(finalRef.ema))).toBeLessThan(1e-5);
  });

  it('a stop checkpoint holds the weights of the step it stopped at', async () => {
    // Reference: the live weights after step 5 of an uninterrupted loop, drawing batches as train() does.
    const cfg = micro();
    const ds = loadDataset(cfg.dataset);
    const state = new TrainState(cfg);
    const sampler = trainingSampler(ds, cfg.seed, gapImages(ds, cfg.gapBatch, cfg.seed));
    let ref: Float32Array;
    try {
      for (let step = 1; step <= 5; step++) {
        const s = trainStep(state, ds, sampler, step);
        for (const t of Object.values(s)) t.dispose();
      }
      ref = Float32Array.from((await state.adam.master.data()) as Float32Array);
    } finally {
      state.dispose();
    }
    const dir = tmp();
    const ctl = new AbortController();
    const res = await train(micro(), {
      runDir: dir,
      signal: ctl.signal,
      sink: (m) => {
        if (m.type === 'progress' && m.step === 5) ctl.abort();
      },
      skipFinalArtifacts: true,
    });
    expect(res.reason).toBe('stopped');
    // Checkpoint 3 was written (and read back) before the stop: the stale-cache case.
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([3, 5]);
    const stop = readCheckpoint(findCheckpoint(dir, 5).path);
    expect(maxAbsDiff(joined(stop.params), ref)).toBeLessThan(1e-6);
  });
});

// On a software adapter the default set is wgsl-cpu; a GPU runs 'wgsl' (the shared matrix-product core's variants,
// Winograd convolutions, the dispatch host path). Checked here on llvmpipe with that set forced, at fewer steps (its kernels are slow there).
describe("checkpoints hold the live weights with a GPU's kernel set (wgsl)", () => {
  beforeAll(() => {
    if (backendName === 'webgpu') overrideKernelSet('wgsl');
  });
  afterAll(() => overrideKernelSet(null));

  it('the 2nd snapshot equals the live weights; resume from the 2nd checkpoint equals the uninterrupted run', async (ctx) => {
    if (backendName !== 'webgpu') ctx.skip();
    expect(kernels().name).toBe('wgsl');
    // The tiny UNet's 3x3 stride-1 convolutions (16 and 32 channels) and their gradients run by Winograd here.
    expect(WINOGRAD_MODE).toBe('all');
    expect(winogradPays(2, 32, 32, 16, 16)).toBe(true);
    const cfg = () => micro({ steps: 6, checkpointEvery: 2 });
    const fullDir = tmp();
    const full = await train(cfg(), { runDir: fullDir, sink: () => {}, skipFinalArtifacts: true });
    expect(listCheckpoints(fullDir).map((c) => c.step)).toEqual([2, 4, 6]);
    const dir = tmp();
    const resumed = await train(cfg(), {
      runDir: dir,
      sink: () => {},
      resumeFrom: findCheckpoint(fullDir, 4).path,
      skipFinalArtifacts: true,
    });
    expect(resumed.history.map((h) => h.step)).toEqual([5, 6]);
    for (const h of resumed.history) {
      const ref = full.history.find((f) => f.step === h.step)!;
      expect(Math.abs(h.loss - ref.loss) / Math.abs(ref.loss), `loss at step ${h.step}`).toBeLessThan(1e-5);
    }
    const mine = readCheckpoint(findCheckpoint(dir, 6).path);
    const ref = readCheckpoint(findCheckpoint(fullDir, 6).path);
    expect(maxAbsDiff(joined(mine.params), joined(ref.params))).toBeLessThan(1e-5);
    // The live weights after 4 steps of a fresh loop equal checkpoint 4 (written after an earlier one was read back).
    const c = cfg();
    const ds = loadDataset(c.dataset);
    const state = new TrainState(c);
    const sampler = trainingSampler(ds, c.seed, gapImages(ds, c.gapBatch, c.seed));
    try {
      for (let step = 1; step <= 4; step++) {
        const s = trainStep(state, ds, sampler, step);
        for (const t of Object.values(s)) t.dispose();
      }
      const live = (await state.adam.master.data()) as Float32Array;
      expect(maxAbsDiff(joined(readCheckpoint(findCheckpoint(fullDir, 4).path).params), live)).toBeLessThan(1e-6);
    } finally {
      state.dispose();
    }
  });
});
