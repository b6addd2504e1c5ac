/**
 * The evaluation jobs the engine host runs (issue 12):
 *  - refStats: the features of a dataset's images (all, or a seeded subset) in a feature space, summarised
 *    (FeatureCollector) and written as a cache file (encodeSummary) that the application layer records;
 *  - eval: for each sampling-step count, n images sampled from a checkpoint in batches and streamed into a
 *    FeatureCollector (never held or written whole; a preview grid of the first 64 is written), then compared
 *    with the reference summary read from its cache file.
 * The feature space is Inception-v3 when a weights file is given (its SHA-256 checked on load), else the
 * labelled pixel space: the result always says which. A variance sampler (issue 13) gets its source once for all
 * step counts: the Γ sent or estimated here over the union of their trajectories, or the covariance head.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { tf } from '../tf';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { loadDataset } from '../data/loader';
import type { PackedDataset } from '../data/packed';
import { sample, timestepSequence, toUint8, type VarianceSource } from '../diffusion/samplers';
import { writeFileAtomic } from '../../io/atomicFile';
import { gridScale, writeGridPng } from '../render/grids';
import { throwIfCancelled } from '../util/cancel';
import { restoreCheckpoint } from '../train/checkpointJobs';
import { epsModelOf, varianceChoice, withWeights } from '../train/artifacts';
import { estimateWork, prepareVariance } from '../train/varianceJobs';
import type { TrainState } from '../train/trainer';
import { compareSummaries, decodeSummary, encodeSummary, FeatureCollector, type FeatureSummary } from './collector';
import { inceptionSpace, pixelSpace, samplesToUnit, type FeatureSpace } from './featureSpace';
import { loadInceptionWeights } from './inception/weights';
import {
  EVAL_KEEP,
  type EvalJob,
  type EvalJobResult,
  type EvalStepResult,
  type RefStatsJob,
  type RefStatsResult,
} from '../../shared/engineMessages';

type OnProgress = (done: number, total: number) => void;

export const EVAL_CANCELLED = 'evaluation cancelled';
/** Images in each step count's preview grid. */
export const PREVIEW_N = 64;
/** Keys the subset of a dataset the reference statistics use (apart from every training stream). */
const REF_SUBSET_STREAM = 0x7265_6673;

async function openSpace(weightsPath: string | undefined): Promise<FeatureSpace> {
  return weightsPath ? inceptionSpace(await loadInceptionWeights(weightsPath)) : pixelSpace();
}

/** n distinct indices of 0..count-1 (sorted), fixed by seed; all of them when n = count. */
export function referenceSubset(count: number, n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 2 || n > count) {
    throw new Error(`n: expected an integer in 2..${count} (the dataset's images), got ${n}`);
  }
  if (n === count) return Int32Array.from({ length: count }, (_, i) => i);
  const rng = Rng.keyed(seed, REF_SUBSET_STREAM);
  const swapped = new Map<number, number>();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(count - i);
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out[i] = vj;
  }
  return out.sort();
}

/** Images at `indices` as [b, h, w, c] in [0, 1] (8-bit levels, as the protocol says). */
function unitBatch(ds: PackedDataset, indices: Int32Array): tf.Tensor4D {
  const { height: h, width: w, channels: c } = ds.info;
  const per = h * w * c;
  const out = new Float32Array(indices.length * per);
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b]! * per;
    for (let k = 0; k < per; k++) out[b * per + k] = ds.pixels[src + k]! / 255;
  }
  return tf.tensor4d(out, [indices.length, h, w, c]);
}

export async function refStatsJob(
  job: RefStatsJob,
  signal: AbortSignal,
  onProgress: OnProgress,
): Promise<RefStatsResult> {
  await initBackend(job.backend ?? 'auto');
  const ds = loadDataset(job.dataset);
  const indices = referenceSubset(ds.info.count, job.n ?? ds.info.count, job.seed);
  const space = await openSpace(job.inceptionWeights);
  try {
    const collector = new FeatureCollector(space, { keep: EVAL_KEEP, seed: job.seed });
    const B = job.batchSize ?? 256;
    for (let start = 0; start < indices.length; start += B) {
      throwIfCancelled(signal, EVAL_CANCELLED);
      const x = unitBatch(ds, indices.subarray(start, Math.min(indices.length, start + B)));
      try {
        await collector.add(x);
      } finally {
        x.dispose();
      }
      onProgress(Math.min(indices.length, start + B), indices.length);
    }
    const summary = await collector.finish();
    const bytes = encodeSummary(summary);
    writeFileAtomic(job.out, bytes);
    return { out: job.out, bytes: bytes.length, count: summary.count, space: summary.space };
  } finally {
    space.dispose();
  }
}

/** The reference summary of an eval job, with the file named in any error. */
function readReference(path: string): FeatureSummary {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read the reference statistics (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return decodeSummary(bytes, `reference statistics ${path}`);
}

function checkEvalJob(job: EvalJob, state: TrainState, space: FeatureSpace, ref: FeatureSummary): void {
  const T = state.cfg.T;
  const over = job.steps.filter((s) => s > T);
  if (over.length) throw new Error(`steps: ${over.join(', ')} exceed the run's T = ${T} diffusion steps`);
  if (ref.space.id !== space.id || ref.space.weightsSha256 !== space.weightsSha256) {
    throw new Error(
      `the reference statistics ${job.refPath} were computed in ${ref.space.label}` +
        `${ref.space.weightsSha256 ? ` (weights ${ref.space.weightsSha256.slice(0, 12)})` : ''}, ` +
        `this evaluation uses ${space.label}: compute them again in the same feature space`,
    );
  }
  if (job.metrics.includes('is') && !space.classes) {
    throw new Error(`metrics: the Inception Score is not defined in ${space.label}: it needs the Inception weights`);
  }
}

/** The increasing union of the trajectories of every step count (what a Γ estimate must cover). */
function trajectoryUnion(T: number, steps: readonly number[], spacing: EvalJob['spacing']): number[] {
  const all = new Set(steps.flatMap((s) => timestepSequence(T, s, spacing)));
  return [...all].sort((a, b) => a - b);
}

export function previewPath(job: EvalJob, step: number, sampleSteps: number, varianceTag = ''): string {
  const name =
    `step-${String(step).padStart(7, '0')}-${job.sampler}${sampleSteps}${varianceTag}` +
    `${job.ema ? '-ema' : ''}-seed${job.seed}-n${job.n}-eval.png`;
  return join(job.previewDir, name);
}

/** Samples one step count's n images in batches into a collector; returns its preview images (uint8). */
async function sampleInto(
  state: TrainState,
  job: EvalJob,
  sampleSteps: number,
  variance: VarianceSource,
  collector: FeatureCollector,
  signal: AbortSignal,
  progress: (images: number) => void,
): Promise<Uint8Array> {
  const { imageSize: S, channels: C } = state.cfg;
  const P = S * S * C;
  const keep = Math.min(PREVIEW_N, job.n);
  const preview = new Uint8Array(keep * P);
  const B = job.batchSize ?? Math.min(job.n, 128);
  for (let start = 0; start < job.n; start += B) {
    throwIfCancelled(signal, EVAL_CANCELLED);
    const b = Math.min(B, job.n - start);
    const images = await sample({
      model: epsModelOf(state.net),
      schedule: state.schedule,
      n: b,
      shape: [S, S, C],
      sampler: job.sampler,
      variance,
      steps: sampleSteps,
      spacing: job.spacing,
      eta: job.eta,
      seed: job.seed,
      // Image g draws the noise keyed by g whatever the batch: every step count starts from the same noise.
      firstImage: start,
      batchSize: b,
      signal,
    });
    if (start < keep) preview.set(toUint8(images.subarray(0, Math.min(keep - start, b) * P)), start * P);
    const x = tf.tensor4d(images, [b, S, S, C]);
    const unit = samplesToUnit(x);
    x.dispose();
    try {
      await collector.add(unit);
    } finally {
      unit.dispose();
    }
    progress(b);
  }
  return preview;
}

export async function evalJob(job: EvalJob, signal: AbortSignal, onProgress: OnProgress): Promise<EvalJobResult> {
  const ref = readReference(job.refPath);
  const state = await restoreCheckpoint(job.checkpointPath, job.backend);
  let space: FeatureSpace | null = null;
  let disposeVariance = () => {};
  try {
    space = await openSpace(job.inceptionWeights);
    checkEvalJob(job, state, space, ref);
    const trajectory = trajectoryUnion(state.cfg.T, job.steps, job.spacing);
    const first = estimateWork(job, trajectory);
    const total = first + job.n * job.steps.length;
    let done = first;
    const v = await prepareVariance(state, job, trajectory, signal, (k) => onProgress(k, total));
    disposeVariance = () => v.dispose();
    const choice = varianceChoice(state, { n: job.n, ema: job.ema, gamma: v.gamma, covHead: v.covHead }, job.sampler);
    const rows: EvalStepResult[] = [];
    for (const sampleSteps of job.steps) {
      const t0 = performance.now();
      const collector = new FeatureCollector(space, {
        keep: EVAL_KEEP,
        seed: job.seed,
        total: space.classes ? job.n : undefined,
      });
      const preview = await withWeights(state, job.ema, () =>
        sampleInto(state, job, sampleSteps, choice.source, collector, signal, (b) => onProgress((done += b), total)),
      );
      const fake = await collector.finish();
      const m = await compareSummaries(ref, fake, job.metrics, { seed: job.seed });
      const path = previewPath(job, state.step, sampleSteps, choice.tag);
      const { imageSize: S, channels: C } = state.cfg;
      writeGridPng(path, preview, preview.length / (S * S * C), S, S, C, { scale: gridScale(S) });
      rows.push({
        sampleSteps,
        ...(m.fid !== undefined ? { fid: m.fid } : {}),
        ...(m.kid
          ? { kid: { mean: m.kid.mean, std: m.kid.std, subsets: m.kid.subsets, subsetSize: m.kid.subsetSize } }
          : {}),
        ...(m.is ? { is: { mean: m.is.mean, std: m.is.std, splits: m.is.splits } } : {}),
        ...(m.precision !== undefined ? { precision: m.precision, recall: m.recall } : {}),
        seconds: (performance.now() - t0) / 1000,
        previewPath: path,
      });
    }
    const made = v.estimated ? { gamma: v.estimated } : {};
    const variance = choice.record;
    return { space: ref.space, checkpointStep: state.step, realCount: ref.count, rows, variance, ...made };
  } finally {
    disposeVariance();
    space?.dispose();
    state.dispose();
  }
}
