/**
 * The next training step's inputs, computed on a worker thread while this step is recorded: the batch's
 * images as floats, its K noises and the noised images x^(k) (prepareLossBatch's xin and eps).
 *
 * On the H200's host the small model's step is bound by main-thread time, and these arrays cost ~6 ms of
 * it per step at batch 128 (the noise alone ~12 ms before it moved to a worker). The worker runs the
 * source of the same functions as this thread (unitImage, normalsFromState, qSample, through
 * fillLossInputs), so prefetched inputs are bit-identical to inputs computed here: a resumed run, or a
 * step whose prefetch was missed, sees exactly what an uninterrupted run saw.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Rng, Stream, normalsFromState } from '../rng';
import { qSample } from '../diffusion/forward';
import type { Schedule } from '../diffusion/schedule';
import { antitheticTimesteps } from '../diffusion/timesteps';
import { lossIndices, lossTerms, type LossSettings } from '../diffusion/losses/sequenceAware';
import { flipDraws, gatherImages, unitImage, type BatchSampler } from '../data/loader';
import type { PackedDataset } from '../data/packed';

type Coefficients = Pick<Schedule, 'sqrtAlphaBar' | 'sqrtOneMinusAlphaBar'>;

/** What the inputs of one step are computed from. */
export interface LossInputsJob {
  batch: number;
  terms: number;
  /** [height, width, channels] of one image. */
  image: [number, number, number];
  /** The batch's images, one after another (gatherImages). */
  bytes: Uint8Array;
  /** 1 where image b is mirrored left-right; null: none is. */
  flips: Uint8Array | null;
  /** Term k's schedule index for image b at [k*B + b] (lossIndices; negative ones are clamped to 0). */
  idx: Int32Array;
  /** The keyed noise stream's xoshiro128** state; term k draws the k-th B*P normals from it. */
  noiseState: Uint32Array;
}

/** K*B*P values each, term-major: eps^(k) and x^(k) = sqrt(abar) x0 + sqrt(1 - abar) eps^(k). */
export interface LossInputs {
  eps: Float32Array;
  xin: Float32Array;
}

interface Helpers {
  unit: typeof unitImage;
  normals: typeof normalsFromState;
  qsample: typeof qSample;
}

/**
 * Fills eps and xin for `job`. The helpers come in as arguments rather than imports, so that the source of
 * this function runs unchanged in the worker (a bundler or test runner rewrites references to imports).
 */
export function fillLossInputs(
  fns: Helpers,
  coef: Coefficients,
  job: LossInputsJob,
  eps: Float32Array,
  xin: Float32Array,
) {
  const [h, w, c] = job.image;
  const P = h * w * c;
  const B = job.batch;
  const x0 = new Float32Array(B * P);
  for (let b = 0; b < B; b++) fns.unit(job.bytes, b * P, job.flips ? job.flips[b]! : 0, h, w, c, x0, b * P);
  const s = Uint32Array.from(job.noiseState);
  for (let k = 0; k < job.terms; k++) {
    fns.normals(s, eps, k * B * P, B * P);
    const epsK = eps.subarray(k * B * P, (k + 1) * B * P);
    fns.qsample(coef, x0, epsK, job.idx.subarray(k * B, (k + 1) * B), xin.subarray(k * B * P, (k + 1) * B * P));
  }
}

const HELPERS: Helpers = { unit: unitImage, normals: normalsFromState, qsample: qSample };

function workerSource(): string {
  return `
    const { parentPort, workerData } = require('node:worker_threads');
    const fns = { unit: ${unitImage.toString()}, normals: ${normalsFromState.toString()}, qsample: ${qSample.toString()} };
    const fill = ${fillLossInputs.toString()};
    const coef = { sqrtAlphaBar: workerData.a, sqrtOneMinusAlphaBar: workerData.b };
    parentPort.on('message', ({ id, job, flag }) => {
      const n = job.terms * job.batch * job.image[0] * job.image[1] * job.image[2];
      const eps = new Float32Array(n);
      const xin = new Float32Array(n);
      fill(fns, coef, job, eps, xin);
      workerData.port.postMessage({ id, eps, xin }, [eps.buffer, xin.buffer]);
      const f = new Int32Array(flag);
      Atomics.store(f, 0, 1);
      Atomics.notify(f, 0);
    });`;
}

const valuesOf = (job: LossInputsJob) => job.terms * job.batch * job.image[0] * job.image[1] * job.image[2];

/** A worker that never answers within this is given up (inputs are computed here from then on). */
const WAIT_MS = 30_000;

/**
 * Each step's arrays are fresh (the worker's are transferred, not copied): a tensor made from them may keep
 * them (the CPU backend does), and WebGPU's writeBuffer takes no SharedArrayBuffer.
 */
export class LossInputsPrefetch {
  private worker: Worker | null = null;
  /** The worker's answers, read synchronously (receiveMessageOnPort) once the flag says one is there. */
  private port: MessagePort | null = null;
  private broken = false;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private inFlight: string | null = null;
  /** How many steps' inputs came from the worker and how many were computed on this thread. */
  readonly stats = { prefetched: 0, drawnHere: 0 };

  constructor(private readonly coef: Coefficients) {}

  /**
   * The inputs with identity `id` (the worker's, when it was computing exactly those; else make()'s,
   * computed here), then starts `next` on the worker.
   */
  take(id: string, make: () => LossInputsJob, next: { id: string; make: () => LossInputsJob } | null): LossInputs {
    let inputs = this.finishInFlight(id);
    if (inputs) {
      this.stats.prefetched++;
    } else {
      const job = make();
      const n = valuesOf(job);
      inputs = { eps: new Float32Array(n), xin: new Float32Array(n) };
      fillLossInputs(HELPERS, this.coef, job, inputs.eps, inputs.xin);
      this.stats.drawnHere++;
    }
    if (next) this.start(next.id, next.make);
    return inputs;
  }

  dispose(): void {
    this.finishInFlight(null);
    void this.worker?.terminate();
    this.worker = null;
    this.port?.close();
    this.port = null;
  }

  private start(id: string, make: () => LossInputsJob): void {
    if (this.broken) return;
    if (!this.worker) {
      try {
        const { port1, port2 } = new MessageChannel();
        this.worker = new Worker(workerSource(), {
          eval: true,
          workerData: { a: this.coef.sqrtAlphaBar, b: this.coef.sqrtOneMinusAlphaBar, port: port2 },
          transferList: [port2],
        });
        this.port = port1;
      } catch {
        this.broken = true;
        return;
      }
      // Training does not wait on it: the process may end while it idles.
      this.worker.unref();
      this.port.unref();
      this.worker.on('error', () => {
        this.broken = true;
      });
    }
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage({ id, job: make(), flag: this.flag.buffer });
    this.inFlight = id;
  }

  /**
   * Waits for the job in flight and returns its inputs when it was job `id`; null when it was another job,
   * there was none, or the worker failed to finish it (it is not asked again then).
   */
  private finishInFlight(id: string | null): LossInputs | null {
    const f = this.inFlight;
    if (f === null) return null;
    this.inFlight = null;
    if (this.broken || Atomics.wait(this.flag, 0, 0, WAIT_MS) === 'timed-out') {
      this.broken = true;
      void this.worker?.terminate();
      this.worker = null;
      return null;
    }
    // Only the answer to the last job can be waiting: each job is waited for before the next is sent.
    const got = receiveMessageOnPort(this.port!)?.message as ({ id: string } & LossInputs) | undefined;
    return got && got.id === id ? { eps: got.eps, xin: got.xin } : null;
  }
}

/** A small number per object, to tell datasets and samplers apart in a job's id. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = nextObjectId++));
  return id;
}

export interface StepInputsConfig {
  seed: number;
  batch: number;
  T: number;
  randomFlip: boolean;
}

/**
 * The top schedule index of each image of `step`: antithetic draws keyed by (seed, step), so a resumed
 * run draws exactly what it would have.
 */
export function stepTimesteps(cfg: StepInputsConfig, step: number): Int32Array {
  return antitheticTimesteps(Rng.keyed(cfg.seed, Stream.timestep, step), cfg.batch, cfg.T);
}

/** The job of training step `step` and its identity (equal ids: equal inputs). */
export function stepInputsJob(
  cfg: StepInputsConfig,
  schedule: Schedule,
  settings: LossSettings,
  ds: PackedDataset,
  sampler: BatchSampler,
  step: number,
): { id: string; make: () => LossInputsJob } {
  const terms = lossTerms(settings);
  const { height, width, channels } = ds.info;
  return {
    id: [
      objectId(ds),
      objectId(sampler),
      objectId(schedule),
      cfg.seed,
      cfg.batch,
      cfg.T,
      cfg.randomFlip,
      terms,
      step,
    ].join(':'),
    make: () => ({
      batch: cfg.batch,
      terms,
      image: [height, width, channels],
      bytes: gatherImages(ds, sampler.batchIndices(step, cfg.batch)),
      flips: cfg.randomFlip ? flipDraws(cfg.seed, step, cfg.batch) : null,
      idx: lossIndices(schedule, settings, stepTimesteps(cfg, step)).idx,
      noiseState: Uint32Array.from(Rng.keyed(cfg.seed, Stream.noise, step).state()),
    }),
  };
}
