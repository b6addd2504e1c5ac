import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf';
import { initBackend } from '../../src/engine/backend';
import { resolveRunConfig, type RunConfig } from '../../src/shared/config';
import { train, TrainState, trainStep } from '../../src/engine/train/trainer';
import { findCheckpoint } from '../../src/engine/train/checkpoint';
import { loadDataset, BatchSampler } from '../../src/engine/data/loader';
import type { EngineMessage } from '../../src/shared/engineMessages';

// Tiny shapes on whatever backend this machine has (WebGPU on llvmpipe here, tfjs cpu otherwise).
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
    logEvery: 1,
    checkpointEvery: 1000,
    gapT0: 10,
    gapBatch: 2,
    sampleN: 2,
    sampleSteps: 5,
    ...over,
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sadpm-train-'));

beforeAll(async () => {
  const info = await initBackend('auto');
  console.log(`trainer tests on ${info.name} (${info.adapter.device || info.adapter.description})`);
});

describe('trainer', () => {
  it('lowers the loss on the embedded default dataset', async () => {
    const res = await train(micro({ steps: 40, batch: 4, lambda: 0.5 }), {
      runDir: tmp(),
      sink: () => {},
      skipFinalArtifacts: true,
    });
    const first = res.history.slice(0, 5).reduce((a, h) => a + h.loss, 0) / 5;
    const last = res.history.slice(-5).reduce((a, h) => a + h.loss, 0) / 5;
    expect(res.history).toHaveLength(40);
    expect(last).toBeLessThan(0.7 * first);
  });

  it('does not grow the number of tensors across steps', async () => {
    const cfg = micro({ steps: 10 });
    const ds = loadDataset(cfg.dataset);
    const state = new TrainState(cfg);
    const sampler = new BatchSampler(ds, cfg.seed);
    const counts: number[] = [];
    for (let s = 1; s <= 6; s++) {
      const out = trainStep(state, ds, sampler, s);
      await out.loss.data();
      for (const t of Object.values(out)) t.dispose();
      counts.push(tf.memory().numTensors);
    }
    expect(counts[5]).toBe(counts[2]);
    state.dispose();
  });

  it('interrupt and resume gives the same loss sequence as an uninterrupted run', async () => {
    const full = await train(micro({ steps: 6, dropout: 0.1 }), {
      runDir: tmp(),
      sink: () => {},
      skipFinalArtifacts: true,
    });
    const dir = tmp();
    const msgs: EngineMessage[] = [];
    await train(micro({ steps: 3, dropout: 0.1 }), {
      runDir: dir,
      sink: (m) => msgs.push(m),
      skipFinalArtifacts: true,
    });
    expect(msgs.some((m) => m.type === 'checkpoint' && m.step === 3)).toBe(true);
    const resumed = await train(micro({ steps: 6, dropout: 0.1 }), {
      runDir: dir,
      sink: () => {},
      resumeFrom: findCheckpoint(dir, 'latest').path,
      skipFinalArtifacts: true,
    });
    expect(resumed.history.map((h) => h.step)).toEqual([4, 5, 6]);
    for (const h of resumed.history) {
      const ref = full.history.find((f) => f.step === h.step)!;
      expect(Math.abs(h.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
      expect(Math.abs(h.gradNorm - ref.gradNorm) / ref.gradNorm).toBeLessThan(1e-3);
    }
  });

  it('stops on abort after writing a checkpoint, and reports failures as messages', async () => {
    const dir = tmp();
    const ctl = new AbortController();
    const msgs: EngineMessage[] = [];
    const res = await train(micro({ steps: 50 }), {
      runDir: dir,
      signal: ctl.signal,
      sink: (m) => {
        msgs.push(m);
        if (m.type === 'progress' && m.step === 2) ctl.abort();
      },
      skipFinalArtifacts: true,
    });
    expect(res.reason).toBe('stopped');
    expect(findCheckpoint(dir, 'latest').step).toBe(2);
    expect(msgs.at(-1)).toMatchObject({ type: 'finished', reason: 'stopped', step: 2 });

    const bad = micro({ steps: 2, imageSize: 32 });
    const fails: EngineMessage[] = [];
    await expect(train(bad, { runDir: tmp(), sink: (m) => fails.push(m) })).rejects.toThrow(
      /16x16x3 images but the model expects 32x32x3/,
    );
  });
});
