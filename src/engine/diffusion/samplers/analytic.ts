/**
 * Analytic-DPM's Γ: Γ_j = E_{q(x0), ε} ‖ε_θ(√ᾱ_j x0 + √(1 - ᾱ_j) ε, j)‖² / d, by Monte Carlo over training
 * images (official `save_ms_eps`: each image noised once per index, mean over pixels then over images).
 *
 * Γ is a property of one set of weights (a checkpoint, raw or EMA) at one index j. The noise of image g at
 * index j comes from its own stream keyed by (seed, g, j), so Γ_j does not depend on the trajectory asked
 * for nor on the batch size: an estimate over one trajectory can serve any other whose indices it holds
 * (`gammaAlong`), and a cache may merge estimates made with the same seed and images.
 */
import { tf } from '../../tf';
import { Rng, Stream } from '../../rng';
import type { Schedule } from '../schedule';
import type { ImageSource } from '../../data/imageSource';
import { pickPositions } from '../../data/imageSource';
import { throwIfCancelled, yieldToEvents } from '../../util/cancel';
import type { EpsModel } from './index';
import { checkTrajectory, gammaKey, type GammaEstimate } from '../../../shared/gammaEstimate';

export {
  GammaEstimateSchema,
  gammaKey,
  parseGammaEstimate,
  type GammaEstimate,
  type GammaKeyParts,
} from '../../../shared/gammaEstimate';

export const GAMMA_CANCELLED = 'gamma estimate cancelled';

/** Γ at each index of `trajectory` (increasing), taken from an estimate that holds all of them. */
export function gammaAlong(est: GammaEstimate, trajectory: readonly number[], T: number): Float64Array {
  if (est.T !== T) throw new Error(`Γ estimate ${est.key} was made for T = ${est.T}, the schedule has T = ${T}`);
  const at = new Map(est.trajectory.map((j, m) => [j, est.gamma[m]!]));
  const missing = trajectory.filter((j) => !at.has(j));
  if (missing.length > 0) {
    const list = missing.slice(0, 8).join(', ') + (missing.length > 8 ? ', ...' : '');
    throw new Error(`Γ estimate ${est.key} has no value at index ${list}: estimate Γ for this trajectory first`);
  }
  return Float64Array.from(trajectory, (j) => at.get(j)!);
}

export interface EstimateGammaOptions {
  model: EpsModel;
  schedule: Schedule;
  /** The training images (q(x0)). */
  images: ImageSource;
  /** Increasing 0-based indices at which to estimate Γ. */
  trajectory: readonly number[];
  /** Images per index (the official code uses a few hundred to ten thousand). */
  nImages: number;
  seed: number;
  /** Provenance, recorded in the estimate and its key. */
  checkpointStep: number;
  ema: boolean;
  /** Images per network call. Default min(nImages, 64). Does not change the result. */
  batchSize?: number;
  /** Called after every network call: done out of total (= indices x batches). */
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Estimates Γ at every trajectory index from nImages training images (the same images at every index). */
export async function estimateGamma(o: EstimateGammaOptions): Promise<GammaEstimate> {
  const { schedule, images, nImages, seed } = o;
  const trajectory = Array.from(o.trajectory);
  const problem = checkTrajectory(trajectory, schedule.T);
  if (problem) throw new Error(`estimateGamma: bad trajectory (${problem})`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`estimateGamma: seed must be an integer >= 0, got ${seed}`);
  const batchSize = o.batchSize ?? Math.min(nImages, 64);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`estimateGamma: batchSize must be a positive integer, got ${batchSize}`);
  }
  const positions = pickPositions(images.count, nImages, seed);
  const [H, W, C] = images.shape;
  const P = H * W * C;
  const numBatches = Math.ceil(nImages / batchSize);
  const total = trajectory.length * numBatches;
  const gamma: number[] = [];
  let done = 0;
  for (const j of trajectory) {
    const a = schedule.sqrtAlphaBar[j]!;
    const b = schedule.sqrtOneMinusAlphaBar[j]!;
    let sum = 0;
    for (let start = 0; start < nImages; start += batchSize) {
      throwIfCancelled(o.signal, GAMMA_CANCELLED);
      const B = Math.min(batchSize, nImages - start);
      const pos = positions.subarray(start, start + B);
      const x0 = images.read(pos);
      if (x0.length !== B * P) {
        throw new Error(`estimateGamma: image source returned ${x0.length} values for ${B} images of ${P}`);
      }
      const x = new Float32Array(B * P);
      const noise = new Float32Array(P);
      for (let i = 0; i < B; i++) {
        Rng.keyed(seed, Stream.gammaNoise, pos[i]!, j).fillNormal(noise);
        for (let p = 0, o0 = i * P; p < P; p++) x[o0 + p] = a * x0[o0 + p]! + b * noise[p]!;
      }
      const ms = tf.tidy(() => {
        const e = o.model(tf.tensor4d(x, [B, H, W, C]), tf.fill([B], j, 'float32') as tf.Tensor1D);
        const want = [B, H, W, C];
        if (e.shape.some((d, k) => d !== want[k])) {
          throw new Error(`estimateGamma: model returned shape [${e.shape.join(',')}], expected [${want.join(',')}]`);
        }
        return tf.mean(tf.square(e), [1, 2, 3]);
      });
      try {
        for (const v of await ms.data()) sum += v;
      } finally {
        ms.dispose();
      }
      done += 1;
      o.onStep?.(done, total);
      await yieldToEvents();
    }
    gamma.push(sum / nImages);
  }
  const parts = { checkpointStep: o.checkpointStep, ema: o.ema, T: schedule.T, trajectory, nImages, seed };
  return { kind: 'sadpm-gamma', version: 1, key: gammaKey(parts), ...parts, gamma };
}
