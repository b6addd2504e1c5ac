/**
 * The estimation-gap monitor (the paper's Figure 4; spec §5).
 *
 * Start from the true noised state at paper step t0 (0-based j0 = t0 - 1):
 *   x̂ = sqrt(ab[j0]) x0 + sqrt(1 - ab[j0]) ε,            ε from Rng.keyed(seed, Stream.gapNoise, i) per image i
 * then for paper t = t0 down to 1 (j = t - 1):
 *   ε̃   = (x̂ - sqrt(ab[j]) x0) / sqrt(1 - ab[j])          the noise that maps the true x0 to the current state
 *   e_t = f(x̂, j) - ε̃
 *   D_t = c[j] e_t + gamma2[j] D_{t+1} for t < t0,        D_{t0} = 0
 *   x̂  ← (x̂ - beta_t / sqrt(1 - ab_t) f(x̂, j)) / sqrt(alpha_t) + sqrt(betaTilde_t) z
 *        z from Rng.keyed(seed, Stream.gapNoise, 1_000_000 + i, t); no noise at t = 1; no x0 clipping,
 *        so the gap is exact algebra.
 * Per t it records mean |D_t| (over images and pixels), the mean over images of the per-image L2 norm
 * ‖D_t‖₂, and the signed mean of D_t (what the official code averages).
 *
 * D_{t0} = 0 as in spec §5 and in the official code (SA-DPM functions/losses.py, get_loss_value: the
 * dict entry of the starting index is zeros and the first term added is one step later): the chain
 * starts on the true noised state, so the model's error there is not counted. Since gamma2 at t = 1
 * is 0, the final D_1 = c_1 e_1 either way; the start only shifts the curve in between. Two things the
 * official function does that we do not: its gamma2 reads ᾱ two indices back (1 - ᾱ_{t-2} where the
 * posterior has 1 - ᾱ_{t-1}, an index slip that zeroes the history at its last step), and it stops at
 * paper t = 2; we use the posterior's gamma2 (spec §1) and run to t = 1.
 *
 * D and x̂ stay on the device; each step reads its three scalars with one small data() call.
 */
import { tf } from '../tf';
import { Rng, Stream } from '../rng';
import type { Schedule } from './schedule';
import type { EpsModel } from './samplers';
import { throwIfCancelled, yieldToEvents } from '../util/cancel';

export interface GapOptions {
  model: EpsModel;
  schedule: Schedule;
  /** Held-out clean images, NHWC in [-1, 1]. */
  x0: Float32Array;
  /** [N, H, W, C] */
  shape: readonly [number, number, number, number];
  /** Paper t (1-based) to start from. Default 300 (the paper's choice); must be <= T. */
  t0?: number;
  seed: number;
  /** Called after each step: k steps done out of t0. */
  onStep?: (k: number, total: number) => void;
  /** Checked between steps; an aborted signal stops with CancelledError(GAP_CANCELLED). */
  signal?: AbortSignal;
}

export const GAP_CANCELLED = 'gap monitor cancelled';

export interface GapResult {
  t0: number;
  /** Paper t per entry: t0, t0 - 1, ..., 1. */
  t: number[];
  meanAbs: number[];
  l2: number[];
  signedMean: number[];
}

/** Offset separating the per-step noise streams from the starting-noise streams of the gap monitor. */
export const GAP_STEP_NOISE_OFFSET = 1_000_000;

export async function computeGap(opts: GapOptions): Promise<GapResult> {
  const { model, schedule, x0: x0Host, seed, onStep, signal } = opts;
  const [N, H, W, C] = opts.shape;
  for (const [name, v] of [
    ['N', N],
    ['H', H],
    ['W', W],
    ['C', C],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`computeGap: shape ${name} must be a positive integer, got ${v}`);
  }
  const P = H * W * C;
  if (x0Host.length !== N * P)
    throw new Error(`computeGap: x0 has ${x0Host.length} values, expected ${N * P} for shape [${N},${H},${W},${C}]`);
  const t0 = opts.t0 ?? 300;
  if (!Number.isInteger(t0) || t0 < 1 || t0 > schedule.T)
    throw new Error(`computeGap: t0 must be an integer in 1..${schedule.T}, got ${t0}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`computeGap: seed must be an integer >= 0, got ${seed}`);
  const shape: [number, number, number, number] = [N, H, W, C];

  const eps = new Float32Array(N * P);
  for (let i = 0; i < N; i++) Rng.keyed(seed, Stream.gapNoise, i).fillNormal(eps, i * P, P);

  const j0 = t0 - 1;
  const x0 = tf.tensor4d(x0Host, shape);
  let xHat: tf.Tensor4D | null = null;
  let D: tf.Tensor4D | null = null;
  const result: GapResult = { t0, t: [], meanAbs: [], l2: [], signedMean: [] };
  try {
    xHat = tf.tidy(() =>
      tf.add(
        tf.mul(x0, schedule.sqrtAlphaBar[j0]!),
        tf.mul(tf.tensor4d(eps, shape), schedule.sqrtOneMinusAlphaBar[j0]!),
      ),
    ) as tf.Tensor4D;
    for (let t = t0; t >= 1; t--) {
      throwIfCancelled(signal, GAP_CANCELLED);
      const j = t - 1;
      const sab = schedule.sqrtAlphaBar[j]!;
      const s1m = schedule.sqrtOneMinusAlphaBar[j]!;
      const beta = schedule.betas[j]!;
      const alpha = schedule.alphas[j]!;
      let z: Float32Array | null = null;
      if (t > 1) {
        z = new Float32Array(N * P);
        for (let i = 0; i < N; i++)
          Rng.keyed(seed, Stream.gapNoise, GAP_STEP_NOISE_OFFSET + i, t).fillNormal(z, i * P, P);
      }
      const xCur: tf.Tensor4D = xHat;
      const dPrev: tf.Tensor4D | null = D;
      const [dNew, xNext, stats] = tf.tidy(() => {
        const jt = tf.fill([N], j, 'float32') as tf.Tensor1D;
        const epsPred = model(xCur, jt);
        if (epsPred.shape.length !== 4 || epsPred.shape.some((d, a) => d !== shape[a])) {
          throw new Error(
            `computeGap: model returned shape [${epsPred.shape.join(',')}], expected [${shape.join(',')}]`,
          );
        }
        const epsTilde = tf.div(tf.sub(xCur, tf.mul(x0, sab)), s1m);
        const e = tf.sub(epsPred, epsTilde);
        const cE = tf.mul(e, schedule.c[j]!) as tf.Tensor4D;
        const d = (dPrev === null ? tf.zerosLike(cE) : tf.add(cE, tf.mul(dPrev, schedule.gamma2[j]!))) as tf.Tensor4D;
        const mean = tf.div(tf.sub(xCur, tf.mul(epsPred, beta / s1m)), Math.sqrt(alpha));
        const xn = (
          z === null ? mean : tf.add(mean, tf.mul(tf.tensor4d(z, shape), Math.sqrt(schedule.betaTilde[j]!)))
        ) as tf.Tensor4D;
        const flat = tf.reshape(d, [N, P]);
        const st = tf.stack([tf.mean(tf.abs(flat)), tf.mean(tf.sqrt(tf.sum(tf.square(flat), 1))), tf.mean(flat)]);
        return [d, xn, st] as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D];
      });
      xHat = xNext;
      xCur.dispose();
      D = dNew;
      dPrev?.dispose();
      let v: Float32Array | Int32Array | Uint8Array;
      try {
        v = await stats.data();
      } finally {
        stats.dispose();
      }
      result.t.push(t);
      result.meanAbs.push(v[0]!);
      result.l2.push(v[1]!);
      result.signedMean.push(v[2]!);
      onStep?.(t0 - t + 1, t0);
      if (signal) await yieldToEvents();
    }
  } finally {
    x0.dispose();
    xHat?.dispose();
    D?.dispose();
  }
  return result;
}
