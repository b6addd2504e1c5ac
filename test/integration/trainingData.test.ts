/**
 * What the trainer feeds the model (issue 10, 1c): the gap monitor's held-out images never reach a
 * training batch and are recorded with the run; randomFlip mirrors exactly the images flipDraws picks;
 * both keep resume exact. A 20-image dataset makes every image come up within a few steps.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend';
import { resolveRunConfig, type RunConfig } from '../../src/shared/config';
import { train, TrainState, trainStep } from '../../src/engine/train/trainer';
import { findCheckpoint } from '../../src/engine/train/checkpoint';
import { BatchSampler, flipDraws, loadDataset } from '../../src/engine/data/loader';
import { makeHeader, writePackedDataset, type PackedDataset } from '../../src/engine/data/packed';
import { Rng } from '../../src/engine/rng';
import type { EngineMessage } from '../../src/shared/engineMessages';

const tmp = () => mkdtempSync(join(tmpdir(), 'sadpm-data-'));
const COUNT = 20;

function datasetFile(): string {
  const pixels = new Uint8Array(COUNT * 8 * 8 * 3);
  const rng = Rng.keyed(99, 1);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const meta = { name: 'noise20', source: 'test', format: 'npy' as const };
  const info = makeHeader({ pixels, count: COUNT, height: 8, width: 8, channels: 3 }, meta);
  const path = join(tmp(), 'noise20.sadpm-ds');
  writePackedDataset(path, { info, pixels });
  return path;
}

let dataset = '';

function micro(over: Record<string, unknown> = {}): RunConfig {
  return resolveRunConfig({
    preset: 'tiny',
    dataset,
    ch: 8,
    chMult: [1, 2],
    numResBlocks: 1,
    attnResolutions: [],
    normGroups: 4,
    dropout: 0,
    imageSize: 8,
    channels: 3,
    batch: 4,
    T: 20,
    k: 2,
    lambda: 1,
    lr: 2e-3,
    logEvery: 1,
    checkpointEvery: 2,
    gapT0: 3,
    gapBatch: 2,
    sampleN: 2,
    sampleSteps: 2,
    backend: 'cpu',
    ...over,
  });
}

beforeAll(async () => {
  dataset = datasetFile();
  // The cpu backend: no shader compilation to wait for (these shapes take milliseconds per step).
  await initBackend('cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('training data', () => {
  it('never trains on the gap monitor held-out images, and records which they are', async () => {
    const drawn: number[] = [];
    const original = BatchSampler.prototype.batchIndices;
    vi.spyOn(BatchSampler.prototype, 'batchIndices').mockImplementation(function (this: BatchSampler, step, batch) {
      const idx = original.call(this, step, batch);
      drawn.push(...idx);
      return idx;
    });
    const dir = tmp();
    const msgs: EngineMessage[] = [];
    await train(micro({ steps: 9 }), { runDir: dir, sink: (m) => msgs.push(m) });
    // Steps 1..9 take stream positions 4..39: a whole epoch (the second), so every training image came up.
    expect(drawn).toHaveLength(36);
    const gapFile = readdirSync(join(dir, 'gap')).find((f) => f.endsWith('.json'))!;
    type GapJson = { heldOut: number[]; excludedFromTraining: boolean };
    const gapJson = JSON.parse(readFileSync(join(dir, 'gap', gapFile), 'utf8')) as GapJson;
    expect(gapJson.heldOut).toHaveLength(2);
    for (const i of gapJson.heldOut) expect(drawn, `held-out image ${i} was trained on`).not.toContain(i);
    expect(new Set(drawn).size).toBe(COUNT - 2);
    expect(gapJson.excludedFromTraining).toBe(true);
    const started = msgs.find((m) => m.type === 'started');
    expect(started && started.type === 'started' && started.heldOut).toEqual(gapJson.heldOut);
    const record: unknown = JSON.parse(readFileSync(join(dir, 'held-out.json'), 'utf8'));
    expect(record).toMatchObject({ indices: gapJson.heldOut, excludedFromTraining: true, datasetCount: COUNT });
  });

  it('randomFlip mirrors the images flipDraws picks, the same on resume', async () => {
    const cfg = micro({ steps: 4, randomFlip: true });
    expect(cfg.randomFlip).toBe(true);
    expect(micro().randomFlip).toBe(false);
    const ds = loadDataset(dataset);
    // Step 1 with flips must equal step 1 without flips on a dataset whose drawn images are pre-mirrored.
    const sampler = new BatchSampler(ds, cfg.seed, []);
    const idx = sampler.batchIndices(1, cfg.batch);
    const flips = flipDraws(cfg.seed, 1, cfg.batch);
    expect(Array.from(flips)).toContain(1);
    expect(new Set(idx).size).toBe(cfg.batch);
    const mirrored: PackedDataset = { info: ds.info, pixels: Uint8Array.from(ds.pixels) };
    const per = 8 * 8 * 3;
    idx.forEach((i, b) => {
      if (!flips[b]) return;
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++)
          for (let c = 0; c < 3; c++) {
            mirrored.pixels[i * per + (y * 8 + x) * 3 + c] = ds.pixels[i * per + (y * 8 + 7 - x) * 3 + c]!;
          }
    });
    const lossOf = async (c: RunConfig, d: PackedDataset) => {
      const state = new TrainState(c);
      try {
        const s = trainStep(state, d, new BatchSampler(d, c.seed, []), 1);
        const v = (await s.loss.data())[0]!;
        for (const t of Object.values(s)) t.dispose();
        return v;
      } finally {
        state.dispose();
      }
    };
    const flipped = await lossOf(cfg, ds);
    expect(flipped).toBe(await lossOf(micro({ steps: 4 }), mirrored));
    expect(flipped).not.toBe(await lossOf(micro({ steps: 4 }), ds));

    const full = await train(cfg, { runDir: tmp(), sink: () => {}, skipFinalArtifacts: true });
    const dir = tmp();
    await train(micro({ steps: 2, randomFlip: true }), { runDir: dir, sink: () => {}, skipFinalArtifacts: true });
    const resumeFrom = findCheckpoint(dir, 'latest').path;
    const resumed = await train(cfg, { runDir: dir, sink: () => {}, resumeFrom, skipFinalArtifacts: true });
    expect(resumed.history.map((h) => h.step)).toEqual([3, 4]);
    for (const h of resumed.history) {
      const ref = full.history.find((f) => f.step === h.step)!;
      expect(Math.abs(h.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    }
  });
});
