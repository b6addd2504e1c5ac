/**
 * The training loop: data → SA-K loss → clipped Adam → EMA, with checkpoints, sample grids and the
 * gap monitor at configured intervals. Emits engine messages through a sink; never prints.
 *
 * Randomness is keyed by (seed, step, purpose), so a resumed run draws exactly what an
 * uninterrupted one would.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../tf';
import { LossInputsPrefetch, stepInputsJob, stepTimesteps } from './lossInputs';
import { makeSchedule, type Schedule } from '../diffusion/schedule';
import {
  lossIndices,
  lossTensors,
  lossTerms,
  type LossBatch,
  type LossSettings,
} from '../diffusion/losses/sequenceAware';
import { UNet } from '../nets/unet';
import { variableGradsFreeing } from '../nets/grads';
import { loadDataset, BatchSampler, gapImages, trainingSampler } from '../data/loader';
import type { PackedDataset } from '../data/packed';
import { initBackend, describeBackend, assertGpuHealthy, deviceBytes } from '../backend';
import { Adam, Ema, clipCoefficient, learningRateAt } from './optimizer';
import { resolveInitFrom } from './starters';
import { checkpointFileName, readCheckpoint, writeCheckpoint, type CheckpointData } from './checkpoint';
import { writeRunSamples, writeRunGap, writeHeldOutRecord } from './artifacts';
import { ActivityReporter } from './activity';
import { CancelledError, yieldToEvents } from '../util/cancel';
import { writeJsonAtomic } from '../../io/atomicFile';
import { modelConfigOf, type RunConfig } from '../../shared/config';
import type { EngineSink, MemoryInfo } from '../../shared/engineMessages';
import { stripNativeLocations } from '../../shared/errorText';

export interface TrainOptions {
  runDir: string;
  sink: EngineSink;
  /**
   * Stops after the current step, or within a denoising step when it fires during sampling or the
   * gap monitor (that artifact is abandoned); a checkpoint is written first.
   */
  signal?: AbortSignal;
  /** Continue from this checkpoint file. */
  resumeFrom?: string;
  /** Skip end-of-run samples and gap (tests, benchmarks). */
  skipFinalArtifacts?: boolean;
  /** Stop (as if interrupted, without a checkpoint) after this step: for resume tests. */
  haltAfterStep?: number;
}

export interface TrainResult {
  step: number;
  reason: 'completed' | 'stopped';
  /** Per-step [loss, simple, sa, gradNorm] for the steps that were logged. */
  history: { step: number; loss: number; simple: number; sa: number; gradNorm: number }[];
}

/** A model with its optimiser state, EMA and schedule: what the trainer and samplers share. */
export class TrainState {
  readonly net: UNet;
  readonly adam: Adam;
  readonly ema: Ema;
  readonly schedule: Schedule;
  readonly inputs: LossInputsPrefetch;
  step = 0;

  constructor(readonly cfg: RunConfig) {
    this.net = new UNet(modelConfigOf(cfg), cfg.seed);
    this.adam = new Adam(this.net.variables, {
      lr: cfg.lr,
      beta1: cfg.adamBeta1,
      beta2: cfg.adamBeta2,
      eps: cfg.adamEps,
    });
    this.ema = new Ema(this.adam.layout, this.adam.master, cfg.emaDecay);
    this.schedule = makeSchedule({ kind: cfg.schedule, T: cfg.T, betaStart: cfg.betaStart, betaEnd: cfg.betaEnd });
    this.inputs = new LossInputsPrefetch(this.schedule);
  }

  restore(ck: CheckpointData): void {
    const n = this.net.variables.length;
    if (ck.params.length !== n)
      throw new Error(`checkpoint has ${ck.params.length} weight tensors, the model has ${n}`);
    this.net.writeWeights(ck.params);
    this.adam.restore(ck.adamM, ck.adamV, ck.adamCount);
    this.ema.restore(ck.ema);
    this.step = ck.step;
  }

  /**
   * Starts from another run's checkpoint (RunConfig.initFrom): its weights, EMA and Adam state, so the first
   * updates continue its optimisation instead of jolting a trained model with fresh moments; the step count
   * starts at 0. The architecture must match tensor by tensor.
   */
  initFrom(ck: CheckpointData, source: string): void {
    const names = this.net.names;
    const shapes = this.net.variables.map((v) => v.shape);
    const at = names.findIndex((n, i) => n !== ck.names[i] || shapes[i]!.join('x') !== ck.shapes[i]?.join('x'));
    if (at >= 0 || ck.names.length !== names.length) {
      const i = at >= 0 ? at : Math.min(names.length, ck.names.length);
      const mine = names[i] ? `${names[i]} ${shapes[i]!.join('x')}` : 'nothing';
      const theirs = ck.names[i] ? `${ck.names[i]} ${ck.shapes[i]!.join('x')}` : 'nothing';
      throw new Error(
        `initFrom: ${source} holds a different model (tensor ${i}: the run's model has ${mine}, the checkpoint ` +
          `${theirs}); its architecture is ch ${ck.config.ch}, chMult ${ck.config.chMult.join(',')}, ` +
          `numResBlocks ${ck.config.numResBlocks}, attnResolutions ${ck.config.attnResolutions.join(',') || 'none'}, ` +
          `imageSize ${ck.config.imageSize}, channels ${ck.config.channels}`,
      );
    }
    this.restore({ ...ck, step: 0 });
  }

  async snapshot(backend: string, metrics: Record<string, number>): Promise<CheckpointData> {
    const { m, v } = await this.adam.readState();
    return {
      step: this.step,
      config: this.cfg,
      backend,
      adamCount: this.adam.count,
      names: this.net.names,
      shapes: this.net.variables.map((v) => v.shape),
      params: await this.net.readWeights(),
      ema: await this.ema.read(),
      adamM: m,
      adamV: v,
      metrics,
    };
  }

  dispose(): void {
    this.inputs.dispose();
    this.net.dispose();
    this.adam.dispose();
    this.ema.dispose();
  }
}

export function checkDatasetFits(ds: PackedDataset, cfg: RunConfig): void {
  const { height, width, channels } = ds.info;
  if (height !== cfg.imageSize || width !== cfg.imageSize || channels !== cfg.channels) {
    throw new Error(
      `dataset ${cfg.dataset} holds ${height}x${width}x${channels} images but the model expects ` +
        `${cfg.imageSize}x${cfg.imageSize}x${cfg.channels}: set --image-size ${height} --channels ${channels}, ` +
        `or import the dataset again with --size ${cfg.imageSize}`,
    );
  }
}

interface StepScalars {
  loss: tf.Scalar;
  simple: tf.Scalar;
  sa: tf.Scalar;
  gradNorm: tf.Scalar;
}

/** One optimisation step; returns the step's scalars (owned by the caller). */
export function trainStep(
  state: TrainState,
  ds: PackedDataset,
  sampler: BatchSampler,
  step: number,
  batched = true,
): StepScalars {
  const { cfg, schedule, net } = state;
  const settings: LossSettings = { k: cfg.k, lambda: cfg.lambda, tau: cfg.tau };
  const shape: [number, number, number] = [cfg.imageSize, cfg.imageSize, cfg.channels];
  const { t, weights } = lossIndices(schedule, settings, stepTimesteps(cfg, step));
  // This step's images, noise and noised images, computed on a worker during the last step; the next step's
  // are started now.
  const jobOf = (s: number) => stepInputsJob(cfg, schedule, settings, ds, sampler, s);
  const cur = jobOf(step);
  const { xin, eps } = state.inputs.take(cur.id, cur.make, step < cfg.steps ? jobOf(step + 1) : null);
  const lb: LossBatch = { terms: lossTerms(settings), batch: cfg.batch, shape, xin, eps, t, weights };
  let simple: tf.Scalar | null = null;
  let sa: tf.Scalar | null = null;
  const { value, grads } = variableGradsFreeing(() => {
    const epsModel = (x: tf.Tensor4D, t: tf.Tensor1D, term: number) =>
      net.apply(x, t, { training: true, dropoutKey: { seed: cfg.seed, step, term } });
    const lt = lossTensors(epsModel, lb, settings, batched);
    simple = tf.keep(lt.simple);
    sa = tf.keep(lt.sa);
    return lt.loss;
  }, net.variables);
  const gradList = net.variables.map((v) => grads[v.name]!);
  const flat = state.adam.layout.flatten(gradList);
  for (const g of gradList) g.dispose();
  // Clipping, Adam and the EMA as one update (one in-place kernel on WebGPU: no weight-sized temporaries).
  const { norm, coef } = clipCoefficient(flat, cfg.gradClip);
  state.adam.apply(flat, learningRateAt(step, cfg.lr, cfg.warmup), coef, cfg.emaDecay > 0 ? state.ema : null);
  flat.dispose();
  coef?.dispose();
  state.step = step;
  return { loss: value, simple: simple!, sa: sa!, gradNorm: norm };
}

function memoryInfo(peak: { v: number }): MemoryInfo {
  const m = tf.memory();
  const gpu = deviceBytes();
  if (gpu !== undefined) peak.v = Math.max(peak.v, gpu);
  return {
    numTensors: m.numTensors,
    numBytes: m.numBytes,
    gpuBytes: gpu,
    peakGpuBytes: gpu !== undefined ? peak.v : undefined,
  };
}

export async function train(cfg: RunConfig, opts: TrainOptions): Promise<TrainResult> {
  const reached = { step: 0 };
  try {
    return await trainInner(cfg, opts, reached);
  } catch (err) {
    opts.sink({ type: 'failed', step: reached.step, reason: stripNativeLocations((err as Error).message) });
    throw err;
  }
}

async function trainInner(cfg: RunConfig, opts: TrainOptions, reached: { step: number }): Promise<TrainResult> {
  const { runDir, sink } = opts;
  const backend = await initBackend(cfg.backend);
  const backendName = describeBackend(backend);
  const ds = loadDataset(cfg.dataset);
  checkDatasetFits(ds, cfg);
  mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
  if (!existsSync(join(runDir, 'config.json')) || !opts.resumeFrom) writeJsonAtomic(join(runDir, 'config.json'), cfg);

  const state = new TrainState(cfg);
  const history: TrainResult['history'] = [];
  try {
    if (opts.resumeFrom) state.restore(readCheckpoint(opts.resumeFrom));
    let initFrom: { spec: string; step: number; updates: number } | undefined;
    if (!opts.resumeFrom && cfg.initFrom) {
      const ck = readCheckpoint(resolveInitFrom(cfg.initFrom));
      state.initFrom(ck, cfg.initFrom);
      initFrom = { spec: cfg.initFrom, step: ck.step, updates: ck.adamCount };
    }
    const gap = gapImages(ds, cfg.gapBatch, cfg.seed);
    const sampler = trainingSampler(ds, cfg.seed, gap);
    writeHeldOutRecord(runDir, cfg, ds.info.count, gap);
    const startStep = state.step;
    sink({
      type: 'started',
      runDir,
      step: startStep,
      totalSteps: cfg.steps,
      backend: backend.name,
      adapter: backendName,
      params: state.net.paramCount(),
      datasetCount: ds.info.count,
      resumed: startStep > 0,
      heldOut: gap.heldOut ? Array.from(gap.indices) : [],
      initFrom,
    });

    const activity = new ActivityReporter(sink);
    activity.enter(startStep, 'training');
    const aborted = () => opts.signal?.aborted === true;
    /** Runs sampling or the gap monitor; null when the stop signal cancelled it (nothing was written). */
    type StepFn = (k: number, n: number) => void;
    const artifact = async <T>(kind: 'sampling' | 'gap', fn: (onStep: StepFn, signal?: AbortSignal) => Promise<T>) => {
      activity.enter(state.step, kind);
      try {
        return await fn(activity.progress(state.step, kind), opts.signal);
      } catch (err) {
        if (err instanceof CancelledError && aborted()) return null;
        throw err;
      }
    };
    const samples = async () => {
      const settings = { n: cfg.sampleN, ema: cfg.emaDecay > 0 };
      const m = await artifact('sampling', (onStep, signal) =>
        writeRunSamples(state, runDir, { ...settings, onStep, signal }),
      );
      if (m) sink(m);
    };
    const measureGap = async () => {
      const m = await artifact('gap', (onStep, signal) => writeRunGap(state, ds, gap, runDir, { onStep, signal }));
      if (m) sink(m);
    };

    const peak = { v: 0 };
    let windowStart = performance.now();
    let windowSteps = 0;
    let last: Record<string, number> = {};

    let savedAt = -1;
    const saveCheckpoint = async () => {
      activity.enter(state.step, 'checkpoint');
      savedAt = state.step;
      const ck = await state.snapshot(backend.name, last);
      const path = join(runDir, 'checkpoints', checkpointFileName(state.step));
      const bytes = writeCheckpoint(path, ck);
      sink({ type: 'checkpoint', step: state.step, path, bytes });
    };

    let reason: TrainResult['reason'] = 'completed';
    for (let step = startStep + 1; step <= cfg.steps; step++) {
      const s = trainStep(state, ds, sampler, step);
      windowSteps += 1;
      const logNow = step % cfg.logEvery === 0 || step === cfg.steps || step === startStep + 1;
      if (logNow) {
        const packed = tf.stack([s.loss, s.simple, s.sa, s.gradNorm]);
        const vals = await packed.data();
        packed.dispose();
        assertGpuHealthy();
        const [loss, simple, sa, gradNorm] = Array.from(vals) as [number, number, number, number];
        if (![loss, simple, sa, gradNorm].every(Number.isFinite)) {
          throw new Error(
            `loss became non-finite at step ${step} (loss ${loss}, grad norm ${gradNorm}); try a lower --lr`,
          );
        }
        const now = performance.now();
        const msPerStep = (now - windowStart) / windowSteps;
        const lr = learningRateAt(step, cfg.lr, cfg.warmup);
        last = { loss, simple, sa, gradNorm };
        history.push({ step, loss, simple, sa, gradNorm });
        const msg = {
          type: 'progress' as const,
          step,
          totalSteps: cfg.steps,
          loss,
          simple,
          sa,
          gradNorm,
          lr,
          imagesPerSec: (cfg.batch * 1000) / msPerStep,
          msPerStep,
          etaSec: ((cfg.steps - step) * msPerStep) / 1000,
          memory: memoryInfo(peak),
          time: Date.now(),
        };
        sink(msg);
        windowStart = now;
        windowSteps = 0;
      }
      for (const t of Object.values(s)) t.dispose();
      if (opts.haltAfterStep === step) return { step, reason: 'stopped', history };
      // A stop arrives as an IPC message or SIGTERM (Slurm's requeue, preemption, scancel): let it in, or the cpu
      // backend, whose reads resolve as microtasks, would train to the end before seeing it.
      await yieldToEvents();
      if (step % cfg.checkpointEvery === 0 || aborted()) await saveCheckpoint();
      if (cfg.sampleEvery > 0 && step % cfg.sampleEvery === 0 && step !== cfg.steps && !aborted()) await samples();
      if (cfg.gapEvery > 0 && step % cfg.gapEvery === 0 && step !== cfg.steps && !aborted()) await measureGap();
      if (aborted()) {
        // The signal may have fired during sampling or the gap, after this step's checkpoint decision.
        if (savedAt !== step) await saveCheckpoint();
        reason = 'stopped';
        break;
      }
      activity.enter(step, 'training');
    }
    if (reason === 'completed') {
      if (state.step % cfg.checkpointEvery !== 0) await saveCheckpoint();
      // Every step is trained and checkpointed: a stop now only skips the final grid and gap curve.
      if (!opts.skipFinalArtifacts && !aborted()) await samples();
      if (!opts.skipFinalArtifacts && !aborted()) await measureGap();
    }
    sink({ type: 'finished', step: state.step, reason, runDir });
    return { step: state.step, reason, history };
  } finally {
    reached.step = state.step;
    state.dispose();
  }
}
