/**
 * The variance samplers' sources inside an engine job (issue 13): a Γ estimate (given by the app from its cache,
 * or estimated here on the run's training images, with progress and cancel) or a covariance head loaded from its
 * checkpoint; and the 'gamma' job that only estimates Γ.
 */
import { gapImages, loadDataset } from '../data/loader';
import { samplerParts, timestepSequence } from '../diffusion/samplers';
import { gammaWork, parseGammaEstimate, type GammaEstimate } from '../../shared/gammaEstimate';
import type { GammaJob, SampleJob } from '../../shared/engineMessages';
import { epsModelOf, withWeights, type ModelHolder } from './artifacts';
import { datasetImageSource } from '../data/imageSource';
import { estimateGamma } from '../diffusion/samplers';
import type { GapImages } from '../data/loader';
import type { PackedDataset } from '../data/packed';
import type { Spacing } from '../../shared/config';
import { loadCovHead, type LoadedCovHead } from './covTrainer';
import { checkDatasetFits } from './trainer';

export interface GammaSettings {
  ema: boolean;
  /** Training images per index (the paper: a few hundred suffice; the official files use 10,000 or all). */
  nImages: number;
  seed: number;
  /** The indices to estimate at: a sampler's walk (steps + spacing) or an explicit increasing list. */
  trajectory: { steps: number; spacing: Spacing } | readonly number[];
  batchSize?: number;
  onStep?: (k: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Analytic-DPM's Γ for the holder's checkpoint and weights, over the run's training images (the dataset
 * less the gap monitor's held-out ones). Plain data: cache it under its `key`.
 */
export async function estimateRunGamma(
  holder: ModelHolder,
  ds: PackedDataset,
  gap: GapImages,
  s: GammaSettings,
): Promise<GammaEstimate> {
  const cfg = holder.cfg;
  const t = s.trajectory;
  const trajectory = 'steps' in t ? timestepSequence(cfg.T, t.steps, t.spacing) : Array.from(t);
  const images = datasetImageSource(ds, gap.heldOut ? gap.indices : []);
  return withWeights(holder, s.ema, () =>
    estimateGamma({
      model: epsModelOf(holder.net),
      schedule: holder.schedule,
      images,
      trajectory,
      nImages: s.nImages,
      seed: s.seed,
      checkpointStep: holder.step,
      ema: s.ema,
      batchSize: s.batchSize,
      onStep: s.onStep,
      signal: s.signal,
    }),
  );
}

type OnStep = (k: number, total: number) => void;

/** Estimates Γ of the holder's checkpoint at `trajectory` over its run's training images. */
async function estimateFor(
  holder: ModelHolder,
  s: { ema: boolean; trajectory: readonly number[]; nImages: number; seed: number; batchSize: number },
  signal: AbortSignal,
  onStep: OnStep,
): Promise<GammaEstimate> {
  const ds = loadDataset(holder.cfg.dataset);
  checkDatasetFits(ds, holder.cfg);
  const gap = gapImages(ds, holder.cfg.gapBatch, holder.cfg.seed);
  return estimateRunGamma(holder, ds, gap, { ...s, onStep, signal });
}

export async function runGammaJob(holder: ModelHolder, job: GammaJob, signal: AbortSignal, onStep: OnStep) {
  const batchSize = job.batchSize ?? 64;
  return estimateFor(holder, { ...job, batchSize }, signal, onStep);
}

/** What a sampling job says about its sampler and variance source (a grid's SampleJob, or another job's). */
export type VarianceJob = Pick<SampleJob, 'sampler' | 'steps' | 'spacing' | 'ema' | 'n' | 'gamma' | 'gammaEstimate'> &
  Pick<SampleJob, 'covHead' | 'batchSize' | 'filmstripFrames'>;

/** The variance fields of any job that samples, whatever its step counts (a grid's, an evaluation's). */
export type VarianceFields = Pick<SampleJob, 'sampler' | 'ema' | 'gamma' | 'gammaEstimate' | 'covHead' | 'batchSize'>;

export interface PreparedVariance {
  gamma?: GammaEstimate;
  covHead?: LoadedCovHead;
  /** An estimate made for this job (the app caches it). */
  estimated?: GammaEstimate;
  dispose(): void;
}

export interface SampleVariance extends PreparedVariance {
  /** Progress of the sampling that follows, offset past the estimate's work. */
  onStep: OnStep;
}

/** Progress units of the Γ estimate a job will make at `trajectory` (0 when it makes none). */
export function estimateWork(job: VarianceFields, trajectory: readonly number[]): number {
  if (samplerParts(job.sampler).variance !== 'gamma' || job.gamma !== undefined || !job.gammaEstimate) return 0;
  return gammaWork(trajectory.length, job.gammaEstimate.nImages, job.batchSize ?? 64);
}

/**
 * The sampler's variance source over `trajectory` (every index the job will sample at): the Γ sent, a Γ
 * estimated here (reporting its own progress: estimateWork units), or the covariance head loaded.
 */
export async function prepareVariance(
  holder: ModelHolder,
  job: VarianceFields,
  trajectory: readonly number[],
  signal: AbortSignal,
  onStep: OnStep,
): Promise<PreparedVariance> {
  const need = samplerParts(job.sampler).variance;
  const none = { dispose: () => {} };
  const given = { gamma: job.gamma !== undefined, gammaEstimate: !!job.gammaEstimate, covHead: !!job.covHead };
  const uses = need === 'gamma' ? ['gamma', 'gammaEstimate'] : need === 'none' ? [] : ['covHead'];
  const stray = Object.entries(given)
    .filter(([k, v]) => v && !uses.includes(k))
    .map(([k]) => k);
  if (stray.length > 0) throw new Error(`${stray.join(', ')}: sampler '${job.sampler}' does not use it`);
  if (need === 'none') return none;
  if (need !== 'gamma') {
    if (!job.covHead) throw new Error(`covHead: sampler '${job.sampler}' needs a covariance head checkpoint`);
    const covHead = loadCovHead(job.covHead);
    return { covHead, dispose: () => covHead.head.dispose() };
  }
  if (job.gamma !== undefined) return { ...none, gamma: parseGammaEstimate(job.gamma, 'the Γ estimate sent') };
  if (!job.gammaEstimate) {
    throw new Error(`gamma: sampler '${job.sampler}' needs a Γ estimate, or gammaEstimate settings to make one`);
  }
  const { nImages, seed } = job.gammaEstimate;
  const settings = { ema: job.ema, trajectory, nImages, seed, batchSize: job.batchSize ?? 64 };
  const estimated = await estimateFor(holder, settings, signal, onStep);
  return { ...none, gamma: estimated, estimated };
}

/**
 * What the job's sampler needs, ready for writeRunSamples. An estimate made here reports its progress as the
 * first part of one bar that the sampling then finishes.
 */
export async function prepareSampleVariance(
  holder: ModelHolder,
  job: VarianceJob,
  signal: AbortSignal,
  onStep: OnStep,
): Promise<SampleVariance> {
  const trajectory = timestepSequence(holder.cfg.T, job.steps, job.spacing);
  const first = estimateWork(job, trajectory);
  const batches = job.filmstripFrames ? 1 : Math.ceil(job.n / (job.batchSize ?? Math.min(job.n, 64)));
  const total = first + trajectory.length * batches;
  const v = await prepareVariance(holder, job, trajectory, signal, (k) => onStep(k, total));
  return { ...v, onStep: v.estimated ? (k) => onStep(first + k, total) : onStep };
}
