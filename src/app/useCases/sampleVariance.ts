/**
 * Where a variance sampler's σ² comes from, decided before its engine job starts (issue 13): analytic-* gets a
 * cached Γ estimate that covers its trajectory, or the settings to estimate one in the job (the job returns it
 * and it is cached); npr-* / sn-* get the head checkpoint of a covariance run of this checkpoint and weights.
 */
import { gammaKey } from '../../shared/gammaEstimate';
import { FieldError } from '../../shared/errors';
import { samplerParts, type SamplerName, type Spacing } from '../../shared/config';
import type { SampleJob } from '../../shared/engineMessages';
import type { RunStore } from '../../store/runStore';
import { timestepSequence } from '../../engine/diffusion/spacing';
import { configOf, type CheckpointTarget } from './checkpointTarget';
import { checkpointStepOf, findCachedGamma, gammaSource, trajectoryUnion } from './gammaEstimate';
import { resolveCovHead } from './covRuns';

/** The variance options of a sampling request; each sampler reads only its own. */
export interface VarianceRequest {
  /** analytic-*: training images per index of the Γ estimate (default: all of them, as the official code). */
  gammaImages?: number;
  gammaSeed?: number;
  /** npr-* / sn-*: the covariance run whose head to use (default: the newest completed one that fits). */
  covRun?: number;
  /** npr-* / sn-*: a head checkpoint file instead (a checkpoint outside the store; the engine checks its base). */
  covHeadFile?: string;
}

/** What a grid's variance came from, for the caller to show. */
export type VarianceUsed =
  | { kind: 'none' }
  | { kind: 'gamma'; key: string; cached: boolean }
  | { kind: 'head'; head: 'npr' | 'sn'; covRunId: number | null; path: string; step: number | null };

export interface ResolvedVariance {
  fields: Pick<SampleJob, 'gamma' | 'gammaEstimate' | 'covHead'>;
  used: VarianceUsed;
  /** The indices a Γ covers or will be estimated at (analytic-* only). */
  trajectory?: number[];
}

export function resolveSampleVariance(
  store: RunStore | undefined,
  target: CheckpointTarget,
  /** steps: a grid's step count, or an evaluation's several (a Γ must cover the union of their trajectories). */
  s: { sampler: SamplerName; steps: number | readonly number[]; spacing: Spacing; ema: boolean },
  v: VarianceRequest = {},
): ResolvedVariance {
  const need = samplerParts(s.sampler).variance;
  if (need === 'none') return { fields: {}, used: { kind: 'none' } };
  if (need === 'gamma') {
    const req = { ema: s.ema, nImages: v.gammaImages, seed: v.gammaSeed };
    const src = gammaSource(target, req, { n: 'gammaImages', seed: 'gammaSeed' });
    const T = configOf(target).T;
    const trajectory =
      typeof s.steps === 'number' ? timestepSequence(T, s.steps, s.spacing) : trajectoryUnion(T, s.steps, s.spacing);
    const hit = store && target.kind === 'stored' ? findCachedGamma(store, target.run.id, src, trajectory) : undefined;
    if (hit) return { fields: { gamma: hit }, used: { kind: 'gamma', key: hit.key, cached: true }, trajectory };
    const key = gammaKey({ ...src, trajectory });
    const fields = { gammaEstimate: { nImages: src.nImages, seed: src.seed } };
    return { fields, used: { kind: 'gamma', key, cached: false }, trajectory };
  }
  if (v.covHeadFile) {
    const used = { kind: 'head' as const, head: need, covRunId: null, path: v.covHeadFile, step: null };
    return { fields: { covHead: v.covHeadFile }, used };
  }
  if (!store || target.kind !== 'stored') {
    const why = 'its head is a covariance run of that run, or give the head checkpoint file';
    throw new FieldError('covHeadFile', `sampler '${s.sampler}' needs a run in the store (${why})`);
  }
  const want = { step: checkpointStepOf(target), ema: s.ema, kind: need, covRunId: v.covRun };
  const h = resolveCovHead(store, target.run, want);
  const used = { kind: 'head' as const, head: need, covRunId: h.covRun.id, path: h.path, step: h.step };
  return { fields: { covHead: h.path }, used };
}
