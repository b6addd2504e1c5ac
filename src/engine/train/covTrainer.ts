/**
 * Training an NPR / SN covariance head on a frozen noise predictor: a covariance run, the child of a trained
 * run, with its own checkpoints (covCheckpoint.ts) and exact resume.
 *
 * The official recipe (baofff/Extended-Analytic-DPM core/criterions/ddpm.py `dt_dsdm` / `dt_dsdm_err`,
 * core/diffusion/schedule.py `Schedule.sample`, configs/default.py), which this follows:
 * - per image an index n uniform over all T steps (not antithetic) and one noise ε; x_n = √ᾱ x0 + √β̄ ε;
 * - target NPR: (ε - ε_θ(x_n, n))² (ε_θ detached), SN: ε²; head output h; loss = Σ_pixels (target - h)²,
 *   mean over the batch (the official objective adds the frozen network's Σ (ε - ε_θ)², which has no
 *   gradient: it is reported here as `simple`, not added);
 * - Adam lr 1e-4, no weight decay, no warm-up, no gradient clipping, EMA 0.9999 of the head.
 * One deliberate difference: the official loop calls models.train() on the whole model, so the frozen
 * backbone runs with dropout while the head trains. Here the backbone runs as it does at sampling (no
 * dropout): the head then learns the residual of the network the samplers actually use.
 *
 * Every random draw is keyed by (seed, step, purpose): batch order (BatchSampler), flips (flipDraws), indices
 * (Stream.covTimestep) and noise (Stream.covNoise), so resuming from any checkpoint equals the uninterrupted run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../tf';
import { yieldToEvents } from '../util/cancel';
import { Rng, Stream } from '../rng';
import { makeSchedule, type Schedule } from '../diffusion/schedule';
import { qSample } from '../diffusion/forward';
import { UNet } from '../nets/unet';
import { CovHead, covHeadSpecFor, type TrainableHead } from '../nets/covHead';
import { variableGradsFreeing } from '../nets/grads';
import { flipDraws, gapImages, loadDataset, toFloatBatch, trainingSampler } from '../data/loader';
import { assertGpuHealthy, describeBackend, initBackend } from '../backend';
import { Adam, Ema, clipByGlobalNorm, learningRateAt } from './optimizer';
import { readCheckpoint } from './checkpoint';
import { checkDatasetFits } from './trainer';
import { covCheckpointFileName, readCovCheckpoint, writeCovCheckpoint, type CovCheckpointData } from './covCheckpoint';
import { writeJsonAtomic } from '../../io/atomicFile';
import { ActivityReporter } from './activity';
import { modelConfigOf, type RunConfig } from '../../shared/config';
import type { CovConfig } from '../../shared/covConfig';
import type { CovHeadKind } from '../diffusion/samplers';
import type { EngineSink } from '../../shared/engineMessages';
import { stripNativeLocations } from '../../shared/errorText';

/** The frozen network as the head's trainer sees it: ε_θ and the features the head reads. */
export type CovBackbone = (x: tf.Tensor4D, j: tf.Tensor1D) => { eps: tf.Tensor4D; features: tf.Tensor4D };

export interface CovBatch {
  /** x_n, NHWC. */
  xn: Float32Array;
  /** The noise that made x_n from x0. */
  eps: Float32Array;
  /** 0-based index of each image. */
  j: Int32Array;
  shape: [number, number, number, number];
}

/** Step `step`'s indices (uniform over 0..T-1) and noise, and the noised images. */
export function makeCovBatch(
  schedule: Schedule,
  x0: Float32Array,
  shape: [number, number, number, number],
  seed: number,
  step: number,
): CovBatch {
  const [B] = shape;
  const rng = Rng.keyed(seed, Stream.covTimestep, step);
  const j = new Int32Array(B);
  for (let b = 0; b < B; b++) j[b] = rng.int(schedule.T);
  const eps = Rng.keyed(seed, Stream.covNoise, step).normal(x0.length);
  return { xn: qSample(schedule, x0, eps, j), eps, j, shape };
}

export interface CovStepSettings {
  kind: CovHeadKind;
  lr: number;
  gradClip: number;
  emaDecay: number;
}

/** A head with its optimiser state and EMA. */
export class CovTrainState {
  readonly adam: Adam;
  readonly ema: Ema;
  step = 0;

  constructor(
    readonly head: TrainableHead,
    adam: { lr: number; beta1: number; beta2: number; eps: number },
    emaDecay: number,
  ) {
    this.adam = new Adam(head.variables, adam);
    this.ema = new Ema(this.adam.layout, this.adam.master, emaDecay);
  }

  restore(ck: Pick<CovCheckpointData, 'params' | 'ema' | 'adamM' | 'adamV' | 'adamCount' | 'step'>): void {
    const vars = this.head.variables;
    if (ck.params.length !== vars.length) {
      throw new Error(`covariance checkpoint has ${ck.params.length} head tensors, the head has ${vars.length}`);
    }
    ck.params.forEach((p, i) => {
      if (p.length !== vars[i]!.size) {
        throw new Error(`covariance checkpoint: head tensor ${i} has ${p.length} values, expected ${vars[i]!.size}`);
      }
      tf.tidy(() => vars[i]!.assign(tf.tensor(p, vars[i]!.shape, 'float32')));
    });
    this.adam.restore(ck.adamM, ck.adamV, ck.adamCount);
    this.ema.restore(ck.ema);
    this.step = ck.step;
  }

  async read(): Promise<{ params: Float32Array[]; ema: Float32Array[]; adamM: Float32Array[]; adamV: Float32Array[] }> {
    const { m, v } = await this.adam.readState();
    const data = await Promise.all(this.head.variables.map((x) => x.data<'float32'>()));
    const params = data.map((d) => Float32Array.from(d));
    return { params, ema: await this.ema.read(), adamM: m, adamV: v };
  }

  dispose(): void {
    this.adam.dispose();
    this.ema.dispose();
  }
}

export interface CovStepScalars {
  /** The head's objective: mean over images of Σ_pixels (target - h)². */
  loss: tf.Scalar;
  /** The frozen network's Σ_pixels (ε - ε_θ)², mean over images (L_simple on this batch). */
  epsLoss: tf.Scalar;
  gradNorm: tf.Scalar;
}

/** One optimisation step of the head; the backbone runs outside the gradient tape. Scalars owned by the caller. */
export function covTrainStep(
  state: CovTrainState,
  backbone: CovBackbone,
  batch: CovBatch,
  step: number,
  s: CovStepSettings,
): CovStepScalars {
  if (s.kind !== 'npr' && s.kind !== 'sn') {
    throw new Error(`covariance head: unknown kind '${String(s.kind)}' (expected npr or sn)`);
  }
  const { features, target, epsLoss, j } = tf.tidy(() => {
    const jt = tf.tensor1d(Float32Array.from(batch.j), 'float32');
    const x = tf.tensor4d(batch.xn, batch.shape);
    const eps = tf.tensor4d(batch.eps, batch.shape);
    const out = backbone(x, jt);
    const resid = tf.sub(eps, out.eps);
    return {
      features: out.features,
      target: s.kind === 'npr' ? tf.square(resid) : tf.square(eps),
      epsLoss: tf.mean(tf.sum(tf.square(resid), [1, 2, 3])) as tf.Scalar,
      j: jt,
    };
  });
  try {
    const vars = state.head.variables;
    const { value, grads } = variableGradsFreeing(
      () => tf.mean(tf.sum(tf.square(tf.sub(target, state.head.apply(features, j))), [1, 2, 3])) as tf.Scalar,
      vars,
    );
    const list = vars.map((v) => grads[v.name]!);
    const flat = state.adam.layout.flatten(list);
    for (const g of list) g.dispose();
    const clipped = clipByGlobalNorm(flat, s.gradClip);
    flat.dispose();
    state.adam.apply(clipped.grad, s.lr);
    clipped.grad.dispose();
    if (s.emaDecay > 0) state.ema.update(state.adam.master);
    state.step = step;
    return { loss: value, epsLoss, gradNorm: clipped.norm };
  } finally {
    features.dispose();
    target.dispose();
    j.dispose();
  }
}

export interface CovTrainOptions {
  /** The covariance run's folder (checkpoints/, cov-config.json). */
  runDir: string;
  sink: EngineSink;
  /** Stops after the current step; a checkpoint is written first. */
  signal?: AbortSignal;
  /** Continue from this covariance checkpoint. */
  resumeFrom?: string;
  /** Stop (as if killed, without a checkpoint) after this step: for resume tests. */
  haltAfterStep?: number;
}

export interface CovTrainResult {
  step: number;
  reason: 'completed' | 'stopped';
  history: { step: number; loss: number; epsLoss: number; gradNorm: number }[];
}

/** The frozen base network of a covariance run (EMA or raw weights of its checkpoint). */
export function loadBaseNetwork(cfg: CovConfig): { net: UNet; schedule: Schedule; baseConfig: RunConfig } {
  const { checkpoint, step, runDir } = cfg.base;
  const ck = readCheckpoint(checkpoint);
  if (ck.step !== step) {
    throw new Error(`base checkpoint ${checkpoint} is at step ${ck.step}, the covariance run expects step ${step}`);
  }
  const bc = ck.config;
  if (cfg.base.ema && !(bc.emaDecay > 0)) {
    const why = `keeps no EMA of its weights (emaDecay = ${bc.emaDecay})`;
    throw new Error(`base run ${runDir} ${why}: set base.ema to false`);
  }
  const net = new UNet(modelConfigOf(bc), bc.seed);
  try {
    net.writeWeights(cfg.base.ema ? ck.ema : ck.params);
  } catch (err) {
    net.dispose();
    throw new Error(`base checkpoint ${cfg.base.checkpoint}: ${(err as Error).message}`);
  }
  const schedule = makeSchedule({ kind: bc.schedule, T: bc.T, betaStart: bc.betaStart, betaEnd: bc.betaEnd });
  return { net, schedule, baseConfig: bc };
}

/** Refuses to resume a checkpoint of a different covariance run. */
function checkResumable(ck: CovCheckpointData, cfg: CovConfig, path: string): void {
  const a = ck.config;
  const diffs: string[] = [];
  if (a.kind !== cfg.kind) diffs.push(`kind ${a.kind} vs ${cfg.kind}`);
  if (a.seed !== cfg.seed) diffs.push(`seed ${a.seed} vs ${cfg.seed}`);
  if (a.batch !== cfg.batch) diffs.push(`batch ${a.batch} vs ${cfg.batch}`);
  if (a.base.step !== cfg.base.step || a.base.ema !== cfg.base.ema) {
    const of = (b: CovConfig['base']) => `${b.step}${b.ema ? ' (EMA)' : ''}`;
    diffs.push(`base step ${of(a.base)} vs ${of(cfg.base)}`);
  }
  if (diffs.length > 0) {
    throw new Error(`cannot resume from ${path}: it belongs to a different covariance run (${diffs.join(', ')})`);
  }
}

export async function trainCov(cfg: CovConfig, opts: CovTrainOptions): Promise<CovTrainResult> {
  const reached = { step: 0 };
  try {
    return await trainCovInner(cfg, opts, reached);
  } catch (err) {
    opts.sink({ type: 'failed', step: reached.step, reason: stripNativeLocations((err as Error).message) });
    throw err;
  }
}

async function trainCovInner(
  cfg: CovConfig,
  opts: CovTrainOptions,
  reached: { step: number },
): Promise<CovTrainResult> {
  const { runDir, sink } = opts;
  const backend = await initBackend(cfg.backend);
  const resume = opts.resumeFrom ? readCovCheckpoint(opts.resumeFrom) : null;
  if (resume) checkResumable(resume, cfg, opts.resumeFrom!);
  const { net, schedule, baseConfig: bc } = loadBaseNetwork(cfg);
  let state: CovTrainState | null = null;
  const history: CovTrainResult['history'] = [];
  try {
    const ds = loadDataset(bc.dataset);
    checkDatasetFits(ds, bc);
    const gap = gapImages(ds, bc.gapBatch, bc.seed);
    const sampler = trainingSampler(ds, cfg.seed, gap);
    const spec = covHeadSpecFor(net, cfg.kind);
    const adam = { lr: cfg.lr, beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps };
    state = new CovTrainState(new CovHead(spec, cfg.seed), adam, cfg.emaDecay);
    if (resume) state.restore(resume);
    mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
    writeJsonAtomic(join(runDir, 'cov-config.json'), cfg);
    const startStep = state.step;
    const paramCount = state.head.variables.reduce((a, v) => a + v.size, 0);
    sink({
      type: 'started',
      runDir,
      step: startStep,
      totalSteps: cfg.steps,
      backend: backend.name,
      adapter: describeBackend(backend),
      params: paramCount,
      datasetCount: ds.info.count,
      resumed: startStep > 0,
      heldOut: gap.heldOut ? Array.from(gap.indices) : [],
    });
    const activity = new ActivityReporter(sink);
    activity.enter(startStep, 'training');
    const backbone: CovBackbone = (x, j) => net.applyWithFeatures(x, j);
    const shape: [number, number, number, number] = [cfg.batch, bc.imageSize, bc.imageSize, bc.channels];
    const aborted = () => opts.signal?.aborted === true;
    let last: Record<string, number> = {};
    let savedAt = -1;
    const st = state;
    const save = async () => {
      activity.enter(st.step, 'checkpoint');
      savedAt = st.step;
      const w = await st.read();
      const path = join(runDir, 'checkpoints', covCheckpointFileName(st.step));
      const names = (st.head as CovHead).names;
      const shapes = st.head.variables.map((v) => v.shape);
      const ck = { step: st.step, config: cfg, head: spec, backend: backend.name, adamCount: st.adam.count };
      const bytes = writeCovCheckpoint(path, { ...ck, names, shapes, ...w, metrics: last });
      sink({ type: 'checkpoint', step: st.step, path, bytes });
    };
    let windowStart = performance.now();
    let windowSteps = 0;
    let reason: CovTrainResult['reason'] = 'completed';
    for (let step = startStep + 1; step <= cfg.steps; step++) {
      const idx = sampler.batchIndices(step, cfg.batch);
      const x0 = toFloatBatch(ds, idx, bc.randomFlip ? flipDraws(cfg.seed, step, cfg.batch) : undefined);
      const lr = learningRateAt(step, cfg.lr, cfg.warmup);
      const settings = { kind: cfg.kind, lr, gradClip: cfg.gradClip, emaDecay: cfg.emaDecay };
      const s = covTrainStep(st, backbone, makeCovBatch(schedule, x0, shape, cfg.seed, step), step, settings);
      windowSteps += 1;
      if (step % cfg.logEvery === 0 || step === cfg.steps || step === startStep + 1) {
        const packed = tf.stack([s.loss, s.epsLoss, s.gradNorm]);
        const [loss, epsLoss, gradNorm] = Array.from(await packed.data()) as [number, number, number];
        packed.dispose();
        assertGpuHealthy();
        if (![loss, epsLoss, gradNorm].every(Number.isFinite)) {
          const what = `loss ${loss}, grad norm ${gradNorm}`;
          throw new Error(`covariance head loss became non-finite at step ${step} (${what}); try a lower lr`);
        }
        const now = performance.now();
        const msPerStep = (now - windowStart) / windowSteps;
        last = { loss, simple: epsLoss, gradNorm };
        history.push({ step, loss, epsLoss, gradNorm });
        const m = tf.memory();
        sink({
          type: 'progress',
          step,
          totalSteps: cfg.steps,
          loss,
          simple: epsLoss,
          sa: 0,
          gradNorm,
          lr,
          imagesPerSec: (cfg.batch * 1000) / msPerStep,
          msPerStep,
          etaSec: ((cfg.steps - step) * msPerStep) / 1000,
          memory: { numTensors: m.numTensors, numBytes: m.numBytes },
        });
        windowStart = now;
        windowSteps = 0;
      }
      for (const t of Object.values(s)) t.dispose();
      if (opts.haltAfterStep === step) return { step, reason: 'stopped', history };
      // A stop arrives as an IPC message: the loop must reach the event loop between steps to let it in.
      await yieldToEvents();
      if (step % cfg.checkpointEvery === 0 || aborted()) await save();
      if (aborted()) {
        reason = 'stopped';
        break;
      }
      activity.enter(step, 'training');
    }
    if (reason === 'completed' && savedAt !== st.step) await save();
    sink({ type: 'finished', step: st.step, reason, runDir });
    return { step: st.step, reason, history };
  } finally {
    reached.step = state?.step ?? 0;
    if (state?.head instanceof CovHead) state.head.dispose();
    state?.dispose();
    net.dispose();
  }
}

/** A trained head ready for sampling, with what the sidecar records about it. */
export interface LoadedCovHead {
  head: CovHead;
  kind: CovHeadKind;
  checkpoint: string;
  step: number;
  weights: 'ema' | 'raw';
  /** The base checkpoint the head was trained on: sampling must use exactly these weights. */
  base: CovConfig['base'];
}

/** Loads a covariance checkpoint's head: its EMA weights by default (the official training keeps an EMA of 0.9999). */
export function loadCovHead(path: string, useEma = true): LoadedCovHead {
  const ck = readCovCheckpoint(path);
  const head = new CovHead(ck.head, ck.config.seed);
  try {
    head.writeWeights(useEma ? ck.ema : ck.params);
  } catch (err) {
    head.dispose();
    throw new Error(`covariance checkpoint ${path}: ${(err as Error).message}`);
  }
  const weights = useEma ? 'ema' : 'raw';
  return { head, kind: ck.head.kind, checkpoint: path, step: ck.step, weights, base: ck.config.base };
}
