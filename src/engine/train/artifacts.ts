/**
 * What a run writes besides checkpoints: sample grids (PNG + JSON sidecar with everything needed to
 * reproduce them) and gap-monitor curves (JSON + CSV).
 */
import { join } from 'node:path';
import { tf } from '../tf';
import type { UNet } from '../nets/unet';
import {
  sampleWithTrajectory,
  samplerParts,
  timestepSequence,
  toUint8,
  type GammaEstimate,
  type VarianceSource,
} from '../diffusion/samplers';
import { covModelOf } from '../nets/covHead';
import type { LoadedCovHead } from './covTrainer';
import { computeGap, type GapResult } from '../diffusion/gap';
import { gridScale, writeGridPng } from '../render/grids';
import { toFloatBatch, type GapImages } from '../data/loader';
import { BUILTIN_DATASETS } from '../data/builtin';
import { shapeCheck, type ShapeCheckResult } from '../data/shapeCheck';
import type { PackedDataset } from '../data/packed';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomicFile';
import type { Schedule } from '../diffusion/schedule';
import type { RunConfig, SamplerName, Spacing } from '../../shared/config';
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
 * the grid's layout, output file, progress and abort. The contract's SampleGridOptions is another thing:
 * complete settings, as the gallery, compare and export forms edit and send them.
 */
export interface SampleGridOptions {
  n: number;
  ema: boolean;
  sampler?: SamplerName;
  /** analytic-*: the Γ estimate of this holder's checkpoint and weights. */
  gamma?: GammaEstimate;
  /** npr-* / sn-*: a head trained on this holder's checkpoint and weights. */
  covHead?: LoadedCovHead;
  /** Variance samplers' clipping (samplers/covariance.ts; official defaults when left out). */
  clipPixel?: number;
  clipSigmaSteps?: number;
  clipX0?: boolean;
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

/** What a grid's sidecar records about its variance source, and a short tag for its file name. */
export interface VarianceChoice {
  source: VarianceSource;
  record: Record<string, unknown>;
  tag: string;
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** The sampler's variance source from the settings, checked against the holder's checkpoint and weights. */
export function varianceChoice(holder: ModelHolder, s: SampleGridOptions, sampler: SamplerName): VarianceChoice {
  const need = samplerParts(sampler).variance;
  const weights = s.ema ? 'EMA' : 'raw';
  const clip = { clipPixel: s.clipPixel ?? null, clipSigmaSteps: s.clipSigmaSteps ?? null, clipX0: s.clipX0 ?? null };
  if (need === 'none') return { source: { kind: 'none' }, record: { kind: 'none' }, tag: '' };
  if (need === 'gamma') {
    const g = s.gamma;
    if (!g) {
      throw new Error(`sampler '${sampler}' needs a Γ estimate of checkpoint ${holder.step} (${weights} weights)`);
    }
    if (g.checkpointStep !== holder.step || g.ema !== s.ema) {
      const of = `checkpoint ${g.checkpointStep} (${g.ema ? 'EMA' : 'raw'} weights)`;
      const uses = `checkpoint ${holder.step} (${weights} weights)`;
      throw new Error(`the Γ estimate ${g.key} was made on ${of}, but sampling uses ${uses}`);
    }
    const { key, nImages, seed, checkpointStep, ema } = g;
    const record = { kind: 'gamma', key, nImages, seed, checkpointStep, ema, ...clip };
    return { source: { kind: 'gamma', gamma: g }, record, tag: `-g${shortHash(g.key)}` };
  }
  const h = s.covHead;
  const NEED = need.toUpperCase();
  if (!h) throw new Error(`sampler '${sampler}' needs an ${NEED} covariance head trained on checkpoint ${holder.step}`);
  if (h.kind !== need) {
    const holds = h.kind.toUpperCase();
    throw new Error(`sampler '${sampler}' needs an ${NEED} head, ${h.checkpoint} holds an ${holds} head`);
  }
  if (h.base.step !== holder.step || h.base.ema !== s.ema) {
    const on = `checkpoint ${h.base.step} (${h.base.ema ? 'EMA' : 'raw'} weights)`;
    const uses = `checkpoint ${holder.step} (${weights} weights)`;
    throw new Error(`the covariance head ${h.checkpoint} was trained on ${on}, but sampling uses ${uses}`);
  }
  const { checkpoint, step, base } = h;
  const record = { kind: 'head', head: h.kind, checkpoint, step, weights: h.weights, base, ...clip };
  return {
    source: { kind: 'head', head: h.kind, model: covModelOf(holder.net, h.head) },
    record,
    tag: `-h${shortHash(`${h.checkpoint}:${h.step}:${h.weights}`)}`,
  };
}

/**
 * One file per distinct grid: the same settings give the same images, so only then is a file reused. A layout
 * other than the default square one (a strip's column) gets its own file, so it never overwrites that grid.
 */
export function defaultSamplePath(
  runDir: string,
  step: number,
  s: Required<Pick<SampleGridOptions, 'sampler' | 'steps' | 'ema' | 'spacing' | 'eta' | 'seed' | 'n'>> & {
    varianceTag?: string;
    cols?: number;
  },
): string {
  const eta = samplerParts(s.sampler).family === 'ddim' && s.eta !== 0 ? `-eta${s.eta}` : '';
  const cols = s.cols === undefined ? undefined : Math.min(s.cols, s.n);
  const layout = cols !== undefined && cols !== Math.ceil(Math.sqrt(s.n)) ? `-c${cols}` : '';
  const variant = `${s.spacing === 'uniform' ? '' : `-${s.spacing}`}${eta}${s.varianceTag ?? ''}${layout}`;
  const name = `step-${String(step).padStart(7, '0')}-${s.sampler}${s.steps}${variant}${s.ema ? '-ema' : ''}-seed${s.seed}-n${s.n}.png`;
  return join(runDir, 'samples', name);
}

/** Samples a grid from the holder's network and writes PNG + sidecar; returns the engine message. */
export async function writeRunSamples(
  holder: ModelHolder,
  runDir: string,
  settings: SampleGridOptions,
): Promise<SamplesMessage> {
  const cfg = holder.cfg;
  const { sampler, steps, spacing, eta, seed } = resolveSampling(cfg, settings);
  const shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const choice = varianceChoice(holder, settings, sampler);
  const t0 = performance.now();
  const res = await withWeights(holder, settings.ema, () =>
    sampleWithTrajectory({
      model: epsModelOf(holder.net),
      schedule: holder.schedule,
      n: settings.n,
      shape,
      sampler,
      steps,
      spacing,
      eta,
      seed,
      variance: choice.source,
      clipPixel: settings.clipPixel,
      clipSigmaSteps: settings.clipSigmaSteps,
      clipX0: settings.clipX0,
      batchSize: settings.batchSize ?? Math.min(settings.n, 64),
      onStep: settings.onStep,
      signal: settings.signal,
    }),
  );
  const images = res.images;
  const seconds = (performance.now() - t0) / 1000;
  const naming = { sampler, steps, ema: settings.ema, spacing, eta, seed, n: settings.n, varianceTag: choice.tag };
  const path = settings.out ?? defaultSamplePath(runDir, holder.step, { ...naming, cols: settings.cols });
  const pixels = toUint8(images);
  const shapes = builtinShapeCheck(cfg, pixels, settings.n);
  const scale = gridScale(cfg.imageSize);
  writeGridPng(path, pixels, settings.n, cfg.imageSize, cfg.imageSize, cfg.channels, {
    cols: settings.cols,
    scale,
    padding: settings.padding,
    caption: settings.caption,
  });
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
    variance: { ...choice.record, ...(res.sigma2 ? { sigma2: res.sigma2 } : {}) },
    imageSeeds: `image i uses streams keyed by (seed=${seed}, i) for i = 0..${settings.n - 1}`,
    grid: {
      cols: settings.cols ?? Math.ceil(Math.sqrt(settings.n)),
      scale,
      padding: settings.padding ?? 2,
      caption: settings.caption ?? null,
    },
    seconds,
    imagesPerSec: settings.n / seconds,
    ...(shapes ? { shapes } : {}),
    reproduce:
      `sadpm sample --run-dir ${runDir} --checkpoint ${holder.step}${settings.ema ? ' --ema' : ''} --n ${settings.n} --sampler ${sampler} --steps ${steps} --spacing ${spacing} --eta ${eta} --seed ${seed}` +
      (settings.gamma ? ` --gamma-images ${settings.gamma.nImages} --gamma-seed ${settings.gamma.seed}` : '') +
      (settings.covHead ? ` --cov-head-file ${settings.covHead.checkpoint}` : ''),
    config: cfg,
  });
  const msg: SamplesMessage = {
    type: 'samples',
    step: holder.step,
    path,
    n: settings.n,
    sampler,
    sampleSteps: steps,
    ema: settings.ema,
    spacing,
    eta,
    seed,
  };
  return shapes ? { ...msg, shapes } : msg;
}

/** For a model of a built-in shapes dataset: how many samples are recognisable shapes (data/shapeCheck.ts). */
function builtinShapeCheck(cfg: RunConfig, pixels: Uint8Array, n: number): ShapeCheckResult | null {
  const spec = BUILTIN_DATASETS.find((d) => d.id === cfg.dataset);
  if (!spec || cfg.imageSize !== spec.size || cfg.channels !== spec.channels) return null;
  return shapeCheck(pixels, n, spec);
}

/**
 * A denoising filmstrip of one image (seed, image 0): x_t at `frames` evenly spaced steps of the chain, then the
 * final sample, in one row; with `filmstripX0`, a second row below with the x0 the network predicts from each
 * x_t (the sample again under it). The sidecar's `frames` give each column's step and t, `rows` what each row shows.
 */
export async function writeFilmstrip(
  holder: ModelHolder,
  runDir: string,
  settings: SampleGridOptions & { frames: number; filmstripX0?: boolean },
): Promise<SamplesMessage> {
  const cfg = holder.cfg;
  const { sampler, steps, spacing, eta, seed } = resolveSampling(cfg, settings);
  const S = timestepSequence(cfg.T, steps, spacing).length;
  const frames = Math.min(settings.frames, S);
  const keep = Array.from(
    new Set(Array.from({ length: frames }, (_, i) => Math.round((i * (S - 1)) / Math.max(1, frames - 1)))),
  );
  const choice = varianceChoice(holder, settings, sampler);
  const res = await withWeights(holder, settings.ema, () =>
    sampleWithTrajectory({
      variance: choice.source,
      clipPixel: settings.clipPixel,
      clipSigmaSteps: settings.clipSigmaSteps,
      clipX0: settings.clipX0,
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
  const cols = res.trajectory.length + 1;
  const rows: ('xt' | 'x0')[] = settings.filmstripX0 ? ['xt', 'x0'] : ['xt'];
  const all = new Float32Array(P * cols * rows.length);
  rows.forEach((row, r) => {
    res.trajectory.forEach((f, i) => all.set((row === 'xt' ? f.xt : f.x0).subarray(0, P), (r * cols + i) * P));
    all.set(res.images.subarray(0, P), (r * cols + cols - 1) * P);
  });
  const n = cols * rows.length;
  const step = String(holder.step).padStart(7, '0');
  const x0Tag = settings.filmstripX0 ? '-x0' : '';
  const name = `step-${step}-${sampler}${steps}${choice.tag}${settings.ema ? '-ema' : ''}-film${x0Tag}-seed${seed}.png`;
  const path = settings.out ?? join(runDir, 'samples', name);
  const scale = gridScale(cfg.imageSize);
  // Each frame is labelled with its t (the sample last, at t = 0), as the sidecar's frames list them.
  const colLabels = res.trajectory.map((f) => `t=${f.j + 1}`).concat(['t=0']);
  writeGridPng(path, toUint8(all), n, cfg.imageSize, cfg.imageSize, cfg.channels, {
    cols,
    scale,
    caption: settings.caption,
    colLabels,
  });
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
    variance: choice.record,
    rows: rows.map((r) => (r === 'xt' ? 'x_t' : 'x0 predicted from x_t')),
    frames: res.trajectory.map((f) => ({ step: f.step, t: f.j + 1 })).concat([{ step: S, t: 0 }]),
  });
  return {
    type: 'samples',
    step: holder.step,
    path,
    n,
    sampler,
    sampleSteps: steps,
    ema: settings.ema,
    spacing,
    eta,
    seed,
  };
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
  // Training's curve (raw weights, the run's t0) keeps the plain name; another measurement of the same
  // checkpoint gets its own file instead of replacing it.
  const variant = `${opts.ema ? '-ema' : ''}${gap.t0 !== cfg.gapT0 ? `-t${gap.t0}` : ''}`;
  const base = join(runDir, 'gap', `gap-${String(holder.step).padStart(7, '0')}${variant}`);
  const msg: GapMessage = {
    type: 'gap',
    step: holder.step,
    t0: gap.t0,
    t: gap.t,
    meanAbs: gap.meanAbs,
    l2: gap.l2,
    signedMean: gap.signedMean,
    path: base + '.json',
    ema: opts.ema ?? false,
    n: heldOut.length,
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
