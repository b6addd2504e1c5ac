/**
 * Work on a saved checkpoint that the engine host runs as a job: a sample grid or filmstrip, and the estimation
 * gap on the run's held-out images. The app and the CLI both start these through the same engine command, so the
 * desktop app, web mode and `sadpm sample` / `sadpm gap` run one code path.
 */
import { parseRunConfig } from '../../shared/config';
import type { GammaJob, GapJob, GapMessage, SampleJob, SampleJobResult } from '../../shared/engineMessages';
import type { GammaEstimate } from '../../shared/gammaEstimate';
import { initBackend } from '../backend';
import { gapImages, holdOutIndices, loadDataset } from '../data/loader';
import { readCheckpoint } from './checkpoint';
import { TrainState, checkDatasetFits } from './trainer';
import { writeFilmstrip, writeRunGap, writeRunSamples } from './artifacts';
import { prepareSampleVariance, runGammaJob } from './varianceJobs';

type OnStep = (k: number, total: number) => void;

/** The model, EMA and schedule of a checkpoint on its run's backend (or `backend` when given). */
export async function restoreCheckpoint(path: string, backend?: SampleJob['backend']): Promise<TrainState> {
  const data = readCheckpoint(path);
  const cfg = backend ? parseRunConfig({ ...data.config, backend }) : data.config;
  await initBackend(cfg.backend);
  const state = new TrainState(cfg);
  try {
    state.restore(data);
  } catch (err) {
    state.dispose();
    throw err;
  }
  return state;
}

export async function sampleJob(job: SampleJob, signal: AbortSignal, onStep: OnStep): Promise<SampleJobResult> {
  const state = await restoreCheckpoint(job.checkpointPath, job.backend);
  try {
    if (job.steps > state.cfg.T) {
      throw new Error(`steps: ${job.steps} sampling steps exceed the run's T = ${state.cfg.T} diffusion steps`);
    }
    const v = await prepareSampleVariance(state, job, signal, onStep);
    try {
      const { gamma: _sent, ...rest } = job;
      const settings = { ...rest, gamma: v.gamma, covHead: v.covHead, onStep: v.onStep, signal };
      const msg = job.filmstripFrames
        ? await writeFilmstrip(state, job.runDir, { ...settings, frames: job.filmstripFrames })
        : await writeRunSamples(state, job.runDir, settings);
      return v.estimated ? { ...msg, gamma: v.estimated } : msg;
    } finally {
      v.dispose();
    }
  } finally {
    state.dispose();
  }
}

/** Issue 13: Analytic-DPM's Γ of a checkpoint (the 'gamma' engine command). */
export async function gammaJob(job: GammaJob, signal: AbortSignal, onStep: OnStep): Promise<GammaEstimate> {
  const state = await restoreCheckpoint(job.checkpointPath, job.backend);
  try {
    return await runGammaJob(state, job, signal, onStep);
  } finally {
    state.dispose();
  }
}

export async function gapJob(job: GapJob, signal: AbortSignal, onStep: OnStep): Promise<GapMessage> {
  const state = await restoreCheckpoint(job.checkpointPath, job.backend);
  try {
    const cfg = state.cfg;
    const t0 = job.t0 ?? cfg.gapT0;
    if (t0 > cfg.T) throw new Error(`t0: expected an integer in 1..${cfg.T} (the run's T), got ${t0}`);
    const ds = loadDataset(cfg.dataset);
    checkDatasetFits(ds, cfg);
    const held = gapImages(ds, cfg.gapBatch, cfg.seed);
    const n = job.n ?? held.indices.length;
    if (n > held.indices.length) {
      throw new Error(
        `n: expected 1..${held.indices.length}: the run holds ${held.indices.length} of its ${ds.info.count} images ` +
          'out of training for the gap monitor, and the others were trained on',
      );
    }
    // A smaller n takes the first n of the held-out images (holdOutIndices draws them in a fixed order).
    const images = { ...held, indices: holdOutIndices(ds, n, cfg.seed) };
    return await writeRunGap(state, ds, images, job.runDir, { ema: job.ema, t0, onStep, signal });
  } finally {
    state.dispose();
  }
}
