/**
 * What a run writes besides checkpoints: sample grids (PNG + JSON sidecar with everything needed to
 * reproduce them) and gap-monitor curves (JSON + CSV).
 */
import { join } from 'node:path';
import { tf } from '../tf';
import type { UNet } from '../nets/unet';
import { sample, sampleWithTrajectory, timestepSequence, toUint8 } from '../diffusion/samplers';
import { computeGap, type GapResult } from '../diffusion/gap';
import { gridScale, writeGridPng } from '../eval/grids';
import { toFloatBatch, type GapImages } from '../data/loader';
import type { PackedDataset } from '../data/packed';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomicFile';
import type { Schedule } from '../diffusion/schedule';
import type { RunConfig, SamplerKind, Spacing } from '../../shared/config';
import type { GapMessage, SamplesMessage } from '../../shared/engineMessages';

/** Anything holding a network, its EMA shadow and a schedule (TrainState, or a loaded checkpoint). */
export interface ModelHolder {
  cfg: RunConfig;
  net: UNet;
  ema: { tensors(): tf.Tensor[] };
  schedule: Schedule;
  step: number;
}

/** Runs `fn` with the EMA weights swapped into the network, then restores the raw weights. */
export async function withWeights<T>(holder: ModelHolder, useEma: boolean, fn: () => Promise<T>): Promise<T> {
  if (!useEma) return fn();
  const vars = holder.net.variables;
  const saved = vars.map((v) => tf.clone(v));
  try {
    const ema = holder.ema.tensors();
    vars.forEach((v, i) => v.assign(ema[i]!));
    ema.forEach((t) => t.dispose());
    return await fn();
  } finally {
    vars.forEach((v, i) => v.assign(saved[i]!));
    saved.forEach((t) => t.dispose());
  }
}

export function epsModelOf(net: UNet) {
  return (x: tf.Tensor4D, j: tf.Tensor1D) => net.apply(x, j, { training: false });
}

/**
 * What writeRunSamples takes: sampling settings where the run's config fills in what is left out, plus
 * the grid's layout, output file, progress and abort. The contract's SampleSettings is another thing:
 * complete settings, as the gallery, compare and export forms edit and send them.
 */
export interface SampleGridOptions {
  n: number;
  ema: boolean;
  sampler?: SamplerKind;
  steps?: number;
  spacing?: Spacing;
  eta?: number;
  seed?: number;
  cols?: number;
  /** Pixels between grid cells (default 2). */
  padding?: number;
  /** Text drawn above the grid. */
  caption?: string;
  batchSize?: number;
  out?: string;
  onStep?: (k: number, total: number) => void;
  signal?: AbortSignal;
}

/** The run's sampling settings where the request leaves them out. */
function resolveSampling(cfg: RunConfig, s: SampleGridOptions) {
  if (s.steps !== undefined && s.steps > cfg.T) {
    const why = `this run has T = ${cfg.T} diffusion steps; give ${cfg.T} or fewer`;
    throw new Error(`${s.steps} sampling steps asked for, but ${why}`);
  }
  return {
    sampler: s.sampler ?? cfg.sampler,
    steps: s.steps ?? cfg.sampleSteps,
    spacing: s.spacing ?? cfg.spacing,
    eta: s.eta ?? cfg.eta,
    seed: s.seed ?? 0,
  };
}

/** One file per distinct grid: the same settings give the same images, so only then is a file reused. */
export function defaultSamplePath(
  runDir: string,
  step: number,
  s: Required<Pick<SampleGridOptions, 'sampler' | 'steps' | 'ema' | 'spacing' | 'eta' | 'seed' | 'n'>>,
): string {
  const variant = `${s.spacing === 'uniform' ? '' : `-${s.spacing}`}${s.sampler === 'ddim' && s.eta !== 0 ? `-eta${s.eta}` : ''}`;
  const name = `step-${String(step).padStart(7, '0')}-${s.sampler}${s.steps}${variant}${s.ema ? '-ema' : ''}-seed${s.seed}-n${s.n}.png`;
  return join(runDir, 'samples', name);
}

/** Samples a grid from the holder's network and writes PNG + sidecar; returns the engine message. */
export async function writeRunSamples(holder: ModelHolder, runDir: string, settings: SampleGridOptions): Promise<SamplesMessage> {
  const cfg = holder.cfg;
  const { sampler, steps, spacing, eta, seed } = resolveSampling(cfg, settings);
  const shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const t0 = performance.now();
  const images = await withWeights(holder, settings.ema, () =>
    sample({
      model: epsModelOf(holder.net),
      schedule: holder.schedule,
      n: settings.n,
      shape,
      sampler,
      steps,
      spacing,
      eta,
      seed,
      batchSize: settings.batchSize ?? Math.min(settings.n, 64),
      onStep: settings.onStep,
      signal: settings.signal,
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const path = settings.out ?? defaultSamplePath(runDir, holder.step, { sampler, steps, ema: settings.ema, spacing, eta, seed, n: settings.n });
  const pixels = toUint8(images);
  const scale = gridScale(cfg.imageSize);
  writeGridPng(path, pixels, settings.n, cfg.imageSize, cfg.imageSize, cfg.channels, { cols: settings.cols, scale, padding: settings.padding, caption: settings.caption });
  writeJsonAtomic(path.replace(/\.png$/i, '') + '.json', {
    kind: 'sadpm-samples',
    runDir,
    checkpointStep: holder.step,
    weights: settings.ema ? 'ema' : 'raw',
    sampler,
    steps,
    spacing,
    eta,
    seed,
    n: settings.n,
    imageSeeds: `image i uses streams keyed by (seed=${seed}, i) for i = 0..${settings.n - 1}`,
    grid: { cols: settings.cols ?? Math.ceil(Math.sqrt(settings.n)), scale, padding: settings.padding ?? 2, caption: settings.caption ?? null },
    seconds,
    imagesPerSec: settings.n / seconds,
    reproduce: `sadpm sample --run-dir ${runDir} --checkpoint ${holder.step}${settings.ema ? ' --ema' : ''} --n ${settings.n} --sampler ${sampler} --steps ${steps} --spacing ${spacing} --eta ${eta} --seed ${seed}`,
    config: cfg,
  });
  return { type: 'samples', step: holder.step, path, n: settings.n, sampler, sampleSteps: steps, ema: settings.ema, spacing, eta, seed };
}

/**
 * A denoising filmstrip of one image (seed, image 0): the x0 prediction at `frames` evenly spaced
 * steps of the chain, then the final sample, in one row.
 */
export async function writeFilmstrip(holder: ModelHolder, runDir: string, settings: SampleGridOptions & { frames: number }): Promise<SamplesMessage> {
  const cfg = holder.cfg;
  const { sampler, steps, spacing, eta, seed } = resolveSampling(cfg, settings);
  const S = timestepSequence(cfg.T, steps, spacing).length;
  const frames = Math.min(settings.frames, S);
  const keep = Array.from(new Set(Array.from({ length: frames }, (_, i) => Math.round((i * (S - 1)) / Math.max(1, frames - 1)))));
  const res = await withWeights(holder, settings.ema, () =>
    sampleWithTrajectory({
      model: epsModelOf(holder.net),
      schedule: holder.schedule,
      n: 1,
      shape: [cfg.imageSize, cfg.imageSize, cfg.channels],
      sampler,
      steps,
      spacing,
      eta,
      seed,
      keepTrajectory: keep,
      onStep: settings.onStep,
      signal: settings.signal,
    }),
  );
  const P = cfg.imageSize * cfg.imageSize * cfg.channels;
  const all = new Float32Array(P * (res.trajectory.length + 1));
  res.trajectory.forEach((f, i) => all.set(f.x0.subarray(0, P), i * P));
  all.set(res.images.subarray(0, P), res.trajectory.length * P);
  const n = res.trajectory.length + 1;
  const path = settings.out ?? join(runDir, 'samples', `step-${String(holder.step).padStart(7, '0')}-${sampler}${steps}${settings.ema ? '-ema' : ''}-film-seed${seed}.png`);
  const scale = gridScale(cfg.imageSize);
  writeGridPng(path, toUint8(all), n, cfg.imageSize, cfg.imageSize, cfg.channels, { cols: n, scale, caption: settings.caption });
  writeJsonAtomic(path.replace(/\.png$/i, '') + '.json', {
    kind: 'sadpm-filmstrip',
    runDir,
    checkpointStep: holder.step,
    weights: settings.ema ? 'ema' : 'raw',
    sampler,
    steps,
    spacing,
    eta,
    seed,
    frames: res.trajectory.map((f) => ({ step: f.step, t: f.j + 1, shows: 'x0 prediction' })).concat([{ step: S, t: 0, shows: 'final sample' }]),
  });
  return { type: 'samples', step: holder.step, path, n, sampler, sampleSteps: steps, ema: settings.ema, spacing, eta, seed };
}

export const HELD_OUT_FILE = 'held-out.json';

/**
 * The run's record of which dataset images the gap monitor holds out of training: held-out.json beside
 * config.json (also in the 'started' message and in every gap JSON).
 */
export function writeHeldOutRecord(runDir: string, cfg: RunConfig, datasetCount: number, gap: GapImages): void {
  writeJsonAtomic(join(runDir, HELD_OUT_FILE), {
    kind: 'sadpm-held-out',
    dataset: cfg.dataset,
    datasetCount,
    seed: cfg.seed,
    gapBatch: cfg.gapBatch,
    indices: Array.from(gap.indices),
    excludedFromTraining: gap.heldOut,
    rule: 'min(gapBatch, max(1, floor(datasetCount / 10))) images drawn by (seed); training never draws them',
  });
}

/** Runs the gap monitor on the fixed held-out batch with fixed noise and writes JSON + CSV. */
export async function writeRunGap(
  holder: ModelHolder,
  ds: PackedDataset,
  images: GapImages,
  runDir: string,
  opts: { ema?: boolean; t0?: number; onStep?: (k: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<GapMessage> {
  const cfg = holder.cfg;
  const t0 = Math.min(opts.t0 ?? cfg.gapT0, cfg.T);
  const heldOut = images.indices;
  const x0 = toFloatBatch(ds, heldOut);
  const gap: GapResult = await withWeights(holder, opts.ema ?? false, () =>
    computeGap({
      model: epsModelOf(holder.net),
      schedule: holder.schedule,
      x0,
      shape: [heldOut.length, cfg.imageSize, cfg.imageSize, cfg.channels],
      t0,
      seed: cfg.seed,
      onStep: opts.onStep,
      signal: opts.signal,
    }),
  );
  const base = join(runDir, 'gap', `gap-${String(holder.step).padStart(7, '0')}`);
  const msg: GapMessage = {
    type: 'gap',
    step: holder.step,
    t0: gap.t0,
    t: gap.t,
    meanAbs: gap.meanAbs,
    l2: gap.l2,
    signedMean: gap.signedMean,
    path: base + '.json',
  };
  writeJsonAtomic(base + '.json', {
    ...msg,
    weights: opts.ema ? 'ema' : 'raw',
    heldOut: Array.from(heldOut),
    // False only for a one-image dataset, where the gap is measured on the training image.
    excludedFromTraining: images.heldOut,
  });
  const rows = gap.t.map((t, i) => `${t},${gap.meanAbs[i]},${gap.l2[i]},${gap.signedMean[i]}`);
  writeFileAtomic(base + '.csv', ['t,mean_abs_gap,l2_gap,signed_mean_gap', ...rows].join('\n') + '\n');
  return msg;
}
