import { afterEach, describe, expect, it } from 'vitest';
import { generateBuiltin } from '../../../src/engine/data/builtin';
import { BatchSampler, flipDraws, toFloatBatch } from '../../../src/engine/data/loader';
import { makeHeader, type PackedDataset } from '../../../src/engine/data/packed';
import { makeSchedule } from '../../../src/engine/diffusion/schedule';
import { antitheticTimesteps } from '../../../src/engine/diffusion/timesteps';
import { prepareLossBatch, type LossSettings } from '../../../src/engine/diffusion/losses/sequenceAware';
import { Rng, Stream } from '../../../src/engine/rng';
import {
  LossInputsPrefetch,
  stepInputsJob,
  type StepInputsConfig,
  type LossInputs,
} from '../../../src/engine/train/lossInputs';

const schedule = makeSchedule({ kind: 'linear', T: 1000 });

/** What the trainer computed on its own thread before the inputs moved to a worker. */
function reference(
  cfg: StepInputsConfig,
  settings: LossSettings,
  ds: PackedDataset,
  sampler: BatchSampler,
  step: number,
) {
  const { height, width, channels } = ds.info;
  const idx = sampler.batchIndices(step, cfg.batch);
  const x0 = toFloatBatch(ds, idx, cfg.randomFlip ? flipDraws(cfg.seed, step, cfg.batch) : undefined);
  const top = antitheticTimesteps(Rng.keyed(cfg.seed, Stream.timestep, step), cfg.batch, cfg.T);
  const noise = Rng.keyed(cfg.seed, Stream.noise, step);
  return prepareLossBatch(schedule, settings, x0, [height, width, channels], top, noise);
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSame(got: LossInputs, want: { xin: Float32Array; eps: Float32Array }) {
  expect(got.xin.length).toBe(want.xin.length);
  expect(bytes(got.xin).equals(bytes(want.xin))).toBe(true);
  expect(bytes(got.eps).equals(bytes(want.eps))).toBe(true);
}

/** 3x3x3 images: with 3 per batch a term holds 81 normals, odd, so each term's draw drops a value. */
function odd(count: number): PackedDataset {
  const pixels = new Uint8Array(count * 27).map((_, k) => (k * 37) % 256);
  const info = makeHeader(
    { pixels, count, height: 3, width: 3, channels: 3 },
    { name: 'o', source: 's', format: 'npy' },
  );
  return { info, pixels };
}

describe('LossInputsPrefetch', () => {
  let pf: LossInputsPrefetch | null = null;
  afterEach(() => {
    pf?.dispose();
    pf = null;
  });

  it('gives bit for bit what prepareLossBatch gives, whether the worker computed them ahead or this thread did', () => {
    const settings: LossSettings = { k: 2, lambda: 1, tau: 'official' };
    for (const ds of [generateBuiltin('shapes', { count: 40 }), odd(11)]) {
      pf = new LossInputsPrefetch(schedule);
      const cfg: StepInputsConfig = { seed: 5, batch: 3, T: 1000, randomFlip: true };
      const sampler = new BatchSampler(ds, cfg.seed);
      const job = (s: number) => stepInputsJob(cfg, schedule, settings, ds, sampler, s);
      // Steps 1-5 in order (prefetched after the first), then a jump back (a resume): computed here.
      for (const step of [1, 2, 3, 4, 5, 2, 3]) {
        const cur = job(step);
        expectSame(pf.take(cur.id, cur.make, job(step + 1)), reference(cfg, settings, ds, sampler, step));
      }
      expect(pf.stats).toEqual({ prefetched: 5, drawnHere: 2 });
      pf.dispose();
    }
  });

  it('does not serve one sampler the inputs prefetched for another', () => {
    pf = new LossInputsPrefetch(schedule);
    const settings: LossSettings = { k: 1, lambda: 0, tau: 'official' };
    const ds = generateBuiltin('shapes', { count: 40 });
    const cfg: StepInputsConfig = { seed: 2, batch: 4, T: 1000, randomFlip: false };
    const a = new BatchSampler(ds, 2);
    const b = new BatchSampler(ds, 9);
    const first = stepInputsJob(cfg, schedule, settings, ds, a, 1);
    pf.take(first.id, first.make, stepInputsJob(cfg, schedule, settings, ds, a, 2));
    const other = stepInputsJob(cfg, schedule, settings, ds, b, 2);
    expectSame(pf.take(other.id, other.make, null), reference(cfg, settings, ds, b, 2));
    expect(pf.stats).toEqual({ prefetched: 0, drawnHere: 2 });
  });
});
