/**
 * Sampling: DDIM (generalized, with eta) and DDPM ancestral on a timestep sub-sequence, with per-image seeds,
 * and the same two families with an estimated reverse variance (covariance.ts): Analytic-DPM from a Γ
 * estimate (analytic.ts), NPR-DPM and SN-DPM from a covariance head.
 *
 * Per-image seeds: image g (global index firstImage + i) draws
 *   x_T                from Rng.keyed(seed, g, Stream.sampleInit)
 *   the noise of step k from Rng.keyed(seed, g, Stream.sampleStep, k)   (k = 0 is the first step, from x_T)
 * so an image does not depend on the batch it is drawn in, nor on how many images are drawn: the same seed
 * gives the same image across batch sizes, runs and checkpoints (the basis of side-by-side comparison).
 * Steps that need no noise (DDIM with eta = 0, every last step) draw none; the variance samplers draw noise on
 * every step but the last.
 *
 * The walk follows the official `generalized_steps` / `ddpm_steps`: for the increasing sub-sequence seq,
 * pairs (seq[m], seq[m-1]) from the top, the last pair being (seq[0], -1).
 */
import { tf } from '../../tf';
import { Rng, Stream } from '../../rng';
import type { Schedule } from '../schedule';
import { timestepSequence, type Spacing } from '../spacing';
import { ddimCoefficients, ddimStep } from './ddim';
import { ddpmCoefficients, ddpmStep, type DdpmVariance } from './ddpm';
import {
  DEFAULT_CLIP_PIXEL,
  DEFAULT_CLIP_SIGMA_STEPS,
  analyticSigma2,
  headSigma2,
  stepCaps,
  varianceStep,
  varianceStepCoefficients,
  type CovHeadKind,
  type VarianceStepCoefficients,
} from './covariance';
import { gammaAlong, type GammaEstimate } from './analytic';
import { throwIfCancelled, yieldToEvents } from '../../util/cancel';
import { SAMPLER_NAMES, samplerParts, type SamplerName } from '../../../shared/config';

export { timestepSequence, type Spacing } from '../spacing';
export { alphaBarAt, ddimCoefficients, ddimStep, type DdimCoefficients } from './ddim';
export { ddpmCoefficients, ddpmStep, type DdpmCoefficients, type DdpmVariance } from './ddpm';
export * from './covariance';
export * from './analytic';
export { SAMPLER_NAMES, samplerParts, type SamplerName } from '../../../shared/config';

/** The network as the samplers see it: x [N,H,W,C] and float32 0-based indices j [N] → predicted eps. */
export type EpsModel = (x: tf.Tensor4D, j: tf.Tensor1D) => tf.Tensor4D;

/** A network with a covariance head: one forward pass gives ε_θ and the head's output h. */
export type CovModel = (x: tf.Tensor4D, j: tf.Tensor1D) => { eps: tf.Tensor4D; head: tf.Tensor4D };

/**
 * Where the reverse variance comes from: nothing (ddpm, ddim), a Γ estimate along the trajectory
 * (analytic-*), or a covariance head (npr-*, sn-*; its model gives ε_θ too, and `model` is then unused).
 */
export type VarianceSource =
  { kind: 'none' } | { kind: 'gamma'; gamma: GammaEstimate } | { kind: 'head'; head: CovHeadKind; model: CovModel };

export interface SampleOptions {
  model: EpsModel;
  schedule: Schedule;
  /** Number of images. */
  n: number;
  /** [H, W, C] of one image. */
  shape: readonly [number, number, number];
  sampler: SamplerName;
  /** Requested number of steps S (the 'uniform' spacing may give a few more; see spacing.ts). */
  steps: number;
  spacing: Spacing;
  /** DDIM eta (ignored by DDPM). Default 0. */
  eta?: number;
  seed: number;
  /** Images per network call. Default min(n, 64). Does not change the result. */
  batchSize?: number;
  /** Global index of the first image (its seed streams). Default 0. */
  firstImage?: number;
  /** DDPM noise variance: 'beta' (official ddpm_noisy, default) or 'posterior'. */
  ddpmVariance?: DdpmVariance;
  /** The variance samplers' source (required by them, refused by ddpm and ddim). */
  variance?: VarianceSource;
  /** Variance samplers: 8-bit levels bounding the noise of the clipped steps (official clip_pixel; ddpm 2, ddim 1). */
  clipPixel?: number;
  /** Variance samplers: how many noisy steps before the last get the clip (official clip_sigma_idx; default 1). */
  clipSigmaSteps?: number;
  /** analytic/npr/sn-ddim: clip the predicted x0 in the mean to [-1, 1] (official clip_x0; default true). */
  clipX0?: boolean;
  /** Called after every step: k steps done out of total (= sequence length x number of batches). */
  onStep?: (k: number, total: number) => void;
  /** Checked between steps; an aborted signal stops sampling with CancelledError('sampling cancelled'). */
  signal?: AbortSignal;
  /** Step numbers (0-based, in sampling order) whose x0 predictions are kept (a "filmstrip"). */
  keepTrajectory?: readonly number[];
}

export interface TrajectoryFrame {
  /** Step number in sampling order (0 = the first step, from x_T). */
  step: number;
  /** The 0-based network index evaluated at that step. */
  j: number;
  /** x0 predictions of all n images at that step, NHWC, clipped to [-1, 1]. */
  x0: Float32Array;
  /** x_t of all n images before that step (its network input), NHWC, clipped to [-1, 1] for display. */
  xt: Float32Array;
}

export interface SampleResult {
  /** Final images, NHWC float32, clipped to [-1, 1]. */
  images: Float32Array;
  /** The increasing 0-based sub-sequence that was walked (from the top down). */
  sequence: number[];
  /** Frames for the requested keepTrajectory steps, in increasing step order. */
  trajectory: TrajectoryFrame[];
  /** analytic-*: σ² of each step in sampling order (0 on the last). */
  sigma2?: number[];
}

export const SAMPLING_CANCELLED = 'sampling cancelled';

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`sample: ${name} must be a positive integer, got ${v}`);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  throwIfCancelled(signal, SAMPLING_CANCELLED);
}

/**
 * Bounds the queued device work to two steps and lets other events (an abort, IPC) run between steps.
 * Each step's readback of one value is requested as soon as the step is recorded, and awaited only after
 * the next step is recorded: the GPU works on step k while the host records step k+1 (waiting on step k
 * itself left the GPU idle for the whole recording, ~5-10 % of a cifar10 DDIM step at batch 256).
 */
class StepPacer {
  private pending: { probe: tf.Tensor; read: Promise<unknown> } | null = null;

  async stepRecorded(x: tf.Tensor4D): Promise<void> {
    const probe = tf.tidy(() => tf.slice(x, [0, 0, 0, 0], [1, 1, 1, 1]));
    const read = probe.data();
    const previous = this.pending;
    this.pending = { probe, read };
    if (previous) await this.settle(previous);
    await yieldToEvents();
  }

  /** Drops the last step's readback without waiting (the loop ended early: an abort or an error). */
  discard(): void {
    const last = this.pending;
    this.pending = null;
    if (last) {
      last.read.catch(() => undefined);
      last.probe.dispose();
    }
  }

  private async settle(p: { probe: tf.Tensor; read: Promise<unknown> }): Promise<void> {
    try {
      await p.read;
    } finally {
      p.probe.dispose();
    }
  }
}

/** Standard normals for images [g0, g0 + B) of one stream purpose, written image by image. */
function perImageNormals(B: number, P: number, keys: (g: number) => number[], g0: number): Float32Array {
  const out = new Float32Array(B * P);
  for (let b = 0; b < B; b++) Rng.keyed(...keys(g0 + b)).fillNormal(out, b * P, P);
  return out;
}

/** Samples n images and returns them with the sub-sequence and any requested trajectory frames. */
export async function sampleWithTrajectory(opts: SampleOptions): Promise<SampleResult> {
  const { model, schedule, n, sampler, seed, onStep, signal } = opts;
  const eta = opts.eta ?? 0;
  const firstImage = opts.firstImage ?? 0;
  const variance = opts.ddpmVariance ?? 'beta';
  checkPositiveInt('n', n);
  const [H, W, C] = opts.shape;
  checkPositiveInt('height', H);
  checkPositiveInt('width', W);
  checkPositiveInt('channels', C);
  const batchSize = opts.batchSize ?? Math.min(n, 64);
  checkPositiveInt('batchSize', batchSize);
  if (!Number.isInteger(firstImage) || firstImage < 0)
    throw new Error(`sample: firstImage must be an integer >= 0, got ${firstImage}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`sample: seed must be an integer >= 0, got ${seed}`);
  if (!(SAMPLER_NAMES as readonly string[]).includes(sampler)) {
    throw new Error(`sample: unknown sampler '${String(sampler)}' (expected ${SAMPLER_NAMES.join(', ')})`);
  }
  if (!(eta >= 0) || !Number.isFinite(eta)) throw new Error(`sample: eta must be a finite number >= 0, got ${eta}`);
  const source = checkVarianceSource(sampler, opts.variance);

  const seq = timestepSequence(schedule.T, opts.steps, opts.spacing);
  const S = seq.length;
  // Step k goes from index cur[k] to next[k].
  const cur: number[] = [];
  const next: number[] = [];
  for (let m = S - 1; m >= 0; m--) {
    cur.push(seq[m]!);
    next.push(m > 0 ? seq[m - 1]! : -1);
  }
  const coefs = stepPlan(opts, seq, cur, next, source, variance, eta);

  const keep = new Set<number>();
  for (const k of opts.keepTrajectory ?? []) {
    if (!Number.isInteger(k) || k < 0 || k >= S)
      throw new Error(`sample: keepTrajectory step ${k} outside 0..${S - 1}`);
    keep.add(k);
  }
  const keptSteps = Array.from(keep).sort((a, b) => a - b);

  const P = H * W * C;
  const images = new Float32Array(n * P);
  const frames = new Map<number, Float32Array>(keptSteps.map((k) => [k, new Float32Array(n * P)]));
  const inputs = new Map<number, Float32Array>(keptSteps.map((k) => [k, new Float32Array(n * P)]));
  const numBatches = Math.ceil(n / batchSize);
  const total = S * numBatches;
  let done = 0;

  throwIfAborted(signal);
  for (let start = 0; start < n; start += batchSize) {
    const B = Math.min(batchSize, n - start);
    const g0 = firstImage + start;
    const bshape: [number, number, number, number] = [B, H, W, C];
    let x = tf.tensor4d(
      perImageNormals(B, P, (g) => [seed, g, Stream.sampleInit], g0),
      bshape,
    );
    const pacer = new StepPacer();
    try {
      for (let k = 0; k < S; k++) {
        throwIfAborted(signal);
        const step = coefs[k]!;
        const needNoise =
          step.kind === 'ddim' ? step.c.c1 !== 0 : step.kind === 'ddpm' ? step.c.sigma !== 0 : step.c.noisy;
        const noise = needNoise ? perImageNormals(B, P, (g) => [seed, g, Stream.sampleStep, k], g0) : null;
        const keepX0 = keep.has(k);
        const xCur = x;
        const out = tf.tidy(() => {
          const j = tf.fill([B], cur[k]!, 'float32') as tf.Tensor1D;
          const out = source.kind === 'head' ? source.model(xCur, j) : { eps: model(xCur, j), head: null };
          const e = out.eps;
          checkShape('model', e, bshape);
          const z = noise === null ? null : tf.tensor4d(noise, bshape);
          let r: { xNext: tf.Tensor4D; x0: tf.Tensor4D };
          if (step.kind === 'ddim') r = ddimStep(xCur, e, step.c, z);
          else if (step.kind === 'ddpm') r = ddpmStep(xCur, e, step.c, z);
          else if (source.kind === 'head') {
            checkShape('covariance head', out.head!, bshape);
            const s2 = step.c.noisy ? headSigma2(step.c, source.head, out.head!, e) : 0;
            r = varianceStep(xCur, e, step.c, s2, z);
          } else r = varianceStep(xCur, e, step.c, step.sigma2, z);
          const clip = (t: tf.Tensor4D) => tf.clipByValue(t, -1, 1) as tf.Tensor4D;
          return keepX0 ? [r.xNext, clip(r.x0), clip(xCur)] : [r.xNext];
        });
        x = out[0]!;
        xCur.dispose();
        const [, x0, xt] = out;
        if (x0 !== undefined && xt !== undefined) {
          try {
            frames.get(k)!.set(await x0.data(), start * P);
            inputs.get(k)!.set(await xt.data(), start * P);
          } finally {
            x0.dispose();
            xt.dispose();
          }
        }
        await pacer.stepRecorded(x);
        done += 1;
        onStep?.(done, total);
      }
      const final = tf.tidy(() => tf.clipByValue(x, -1, 1));
      try {
        images.set(await final.data(), start * P);
      } finally {
        final.dispose();
      }
    } finally {
      pacer.discard();
      x.dispose();
    }
  }
  return {
    images,
    sequence: seq,
    trajectory: keptSteps.map((k) => ({ step: k, j: cur[k]!, x0: frames.get(k)!, xt: inputs.get(k)! })),
    ...(source.kind === 'gamma' ? { sigma2: coefs.map((c) => (c.kind === 'var' ? c.sigma2 : 0)) } : {}),
  };
}

function checkShape(what: string, t: tf.Tensor, shape: readonly number[]): void {
  if (t.shape.length !== 4 || t.shape.some((d, a) => d !== shape[a])) {
    throw new Error(`sample: ${what} returned shape [${t.shape.join(',')}], expected [${shape.join(',')}]`);
  }
}

/** The sampler's variance source, checked against what the sampler needs. */
function checkVarianceSource(sampler: SamplerName, given: VarianceSource | undefined): VarianceSource {
  const need = samplerParts(sampler).variance;
  const got = given ?? { kind: 'none' };
  if (need === 'none') {
    if (got.kind !== 'none') {
      throw new Error(`sample: sampler '${sampler}' takes no variance source (got '${got.kind}')`);
    }
  } else if (need === 'gamma') {
    if (got.kind !== 'gamma') {
      throw new Error(`sample: sampler '${sampler}' needs a Γ estimate (variance kind 'gamma'), got '${got.kind}'`);
    }
  } else if (got.kind !== 'head' || got.head !== need) {
    const what = got.kind === 'head' ? `an ${got.head.toUpperCase()} head` : `'${got.kind}'`;
    throw new Error(`sample: sampler '${sampler}' needs an ${need.toUpperCase()} covariance head, got ${what}`);
  }
  return got;
}

type StepPlan =
  | { kind: 'ddim'; c: ReturnType<typeof ddimCoefficients> }
  | { kind: 'ddpm'; c: ReturnType<typeof ddpmCoefficients> }
  | { kind: 'var'; c: VarianceStepCoefficients; sigma2: number };

/** Host-side coefficients of every step, in sampling order. */
function stepPlan(
  opts: SampleOptions,
  seq: number[],
  cur: number[],
  next: number[],
  source: VarianceSource,
  variance: DdpmVariance,
  eta: number,
): StepPlan[] {
  const { schedule, sampler } = opts;
  if (sampler === 'ddim') return cur.map((i, k) => ({ kind: 'ddim', c: ddimCoefficients(schedule, i, next[k]!, eta) }));
  if (sampler === 'ddpm') {
    return cur.map((i, k) => ({ kind: 'ddpm', c: ddpmCoefficients(schedule, i, next[k]!, variance) }));
  }
  const { family } = samplerParts(sampler);
  const clipPixel = opts.clipPixel ?? DEFAULT_CLIP_PIXEL[family];
  const caps = stepCaps(cur.length, opts.clipSigmaSteps ?? DEFAULT_CLIP_SIGMA_STEPS, clipPixel);
  // Γ along the walk: gamma[m] belongs to seq[m], and step k evaluates seq[S - 1 - k].
  const gamma = source.kind === 'gamma' ? gammaAlong(source.gamma, seq, schedule.T) : null;
  return cur.map((i, k) => {
    const settings = { family, eta, clipX0: opts.clipX0 ?? true, cap: caps[k]! };
    const c = varianceStepCoefficients(schedule, i, next[k]!, settings);
    return { kind: 'var', c, sigma2: gamma ? analyticSigma2(c, gamma[seq.length - 1 - k]!) : NaN };
  });
}

/** Samples n images: NHWC float32 in [-1, 1] (clipped). */
export async function sample(opts: SampleOptions): Promise<Float32Array> {
  return (await sampleWithTrajectory(opts)).images;
}

/**
 * Quantises [-1, 1] images to 8 bits like the official pipeline: inverse_data_transform ((x + 1) / 2,
 * clamped to [0, 1]) then torchvision's save_image (x * 255 + 0.5, clamped to [0, 255], truncated).
 * Arithmetic is rounded to float32 at each op as torch does. NaN maps to 0.
 */
export function toUint8(images: Float32Array): Uint8Array {
  const f = Math.fround;
  const out = new Uint8Array(images.length);
  for (let i = 0; i < images.length; i++) {
    let v = f(f(images[i]! + 1) / 2);
    if (!(v > 0)) v = 0;
    else if (v > 1) v = 1;
    let q = f(f(v * 255) + 0.5);
    if (q > 255) q = 255;
    out[i] = Math.trunc(q);
  }
  return out;
}
