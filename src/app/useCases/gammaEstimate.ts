/**
 * Analytic-DPM's Γ estimates (issue 13): a cached one from store.gammas when it covers the indices asked for, or a
 * new one from an engine 'gamma' job (progress, cancel), then cached. `sadpm gamma`, the app's gamma.estimate and
 * sampling with analytic-* all come here, so a Γ is estimated once per checkpoint, weights, images and seed.
 *
 * Defaults follow the official code (baofff/Analytic-DPM `save_ms_eps`): n_samples None = every training image
 * (here the run's dataset less the gap monitor's held-out images). Γ_j depends on j only, not on the trajectory
 * (samplers/analytic.ts), so one estimate over the union of several trajectories serves each of them.
 */
import { parseGammaEstimate, gammaCovers, type GammaEstimate, type GammaSource } from '../../shared/gammaEstimate';
import { SPACINGS, type RunConfig, type Spacing } from '../../shared/config';
import { FieldError } from '../../shared/errors';
import type { RunStore } from '../../store/runStore';
import { timestepSequence } from '../../engine/diffusion/spacing';
import { datasetCount, gapImageCount } from '../../engine/data/loader';
import { readCheckpointHeader } from '../../engine/train/checkpoint';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import { configOf, targetFiles, type CheckpointTarget } from './checkpointTarget';

/** The images Γ averages over: the run's dataset less the gap monitor's held-out ones (what training draws). */
export function trainingImageCount(cfg: RunConfig): number {
  const count = datasetCount(cfg.dataset);
  return count < 2 ? count : count - gapImageCount(count, cfg.gapBatch);
}

/** The training step of a target's checkpoint. */
export function checkpointStepOf(t: CheckpointTarget): number {
  return t.kind === 'stored' ? t.checkpoint.step : readCheckpointHeader(t.path).step;
}

export interface GammaSettings {
  ema: boolean;
  /** Images per index; default every training image (the official default). */
  nImages?: number;
  seed?: number;
}

/** The estimate's full source; bad settings are named by `fields` (the caller's flags or request fields). */
export function gammaSource(t: CheckpointTarget, s: GammaSettings, fields = { n: 'n', seed: 'seed' }): GammaSource {
  const cfg = configOf(t);
  const pool = trainingImageCount(cfg);
  const nImages = s.nImages ?? pool;
  if (!Number.isInteger(nImages) || nImages < 1 || nImages > pool) {
    const why = `the run trains on ${pool} images (its dataset less the gap monitor's held-out ones)`;
    throw new FieldError(fields.n, `expected an integer in 1..${pool}: ${why}`, nImages);
  }
  const seed = s.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new FieldError(fields.seed, 'expected an integer >= 0', seed);
  return { checkpointStep: checkpointStepOf(t), ema: s.ema, T: cfg.T, nImages, seed };
}

/** The increasing union of the sampling trajectories of `steps` (each at most T) with one spacing. */
export function trajectoryUnion(T: number, steps: readonly number[], spacing: Spacing): number[] {
  if (!SPACINGS.includes(spacing)) throw new FieldError('spacing', `expected one of ${SPACINGS.join(', ')}`, spacing);
  if (steps.length === 0) throw new FieldError('steps', 'give at least one number of sampling steps');
  const all = new Set<number>();
  for (const s of steps) {
    if (!Number.isInteger(s) || s < 1 || s > T) {
      throw new FieldError('steps', `expected integers in 1..${T} (the run's T), got ${s}`, s);
    }
    for (const j of timestepSequence(T, s, spacing)) all.add(j);
  }
  return [...all].sort((a, b) => a - b);
}

/** A cached estimate of the run that holds Γ at every index of `trajectory` from `src`; unreadable rows skipped. */
export function findCachedGamma(
  store: RunStore,
  runId: number,
  src: GammaSource,
  trajectory: readonly number[],
): GammaEstimate | undefined {
  for (const row of store.gammas.list(runId)) {
    if (row.checkpointStep !== src.checkpointStep) continue;
    let e: GammaEstimate;
    try {
      e = parseGammaEstimate(row.estimate, `Γ cache of run #${runId}, key ${row.key}`);
    } catch {
      continue;
    }
    if (gammaCovers(e, src, trajectory)) return e;
  }
  return undefined;
}

/** Keeps an estimate made for a stored checkpoint (a file target has no store to keep it in). */
export function cacheGamma(store: RunStore | undefined, t: CheckpointTarget, e: GammaEstimate): void {
  if (!store || t.kind !== 'stored') return;
  store.gammas.put({ runId: t.run.id, key: e.key, checkpointStep: e.checkpointStep, estimate: e });
}

export interface GammaOutcome {
  estimate: GammaEstimate;
  /** True when it came from the store without running the engine. */
  cached: boolean;
}

/** Γ of a checkpoint at `trajectory`: from the cache, else estimated by an engine job and cached. */
export async function estimateGammaCached(
  deps: { store?: RunStore; spawn: SpawnEngine },
  target: CheckpointTarget,
  req: GammaSettings & { trajectory: number[]; batchSize?: number },
  opts: JobOptions = {},
): Promise<GammaOutcome> {
  const src = gammaSource(target, req);
  if (deps.store && target.kind === 'stored') {
    const hit = findCachedGamma(deps.store, target.run.id, src, req.trajectory);
    if (hit) return { estimate: hit, cached: true };
  }
  const files = targetFiles(target);
  const job = { ...files, ema: src.ema, trajectory: req.trajectory, nImages: src.nImages, seed: src.seed };
  const sized = req.batchSize ? { ...job, batchSize: req.batchSize } : job;
  const raw = await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'gamma', jobId, job: sized }), opts);
  const estimate = parseGammaEstimate(raw, "the engine's Γ estimate");
  cacheGamma(deps.store, target, estimate);
  return { estimate, cached: false };
}
