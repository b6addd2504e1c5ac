/**
 * A variance sampler's source in an evaluation (issue 13): resolved as a grid's is (sampleVariance.ts), but over
 * every step count at once (a Γ covers the union of their trajectories, so it is estimated once), and named in
 * each stored result, so that results of two heads or two Γ estimates are two lines, never one.
 */
import { z } from 'zod';
import { samplerParts } from '../../shared/config';
import { gammaWork } from '../../shared/gammaEstimate';
import type { EvalSettings } from '../../shared/evaluation';
import type { EvalResult } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import type { StoredCheckpoint } from './checkpointTarget';
import { resolveSampleVariance, type ResolvedVariance } from './sampleVariance';

/** What the engine reports it used (artifacts.ts varianceChoice's record), the parts named in a result. */
const UsedRecordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('gamma'), key: z.string(), nImages: z.number().int(), seed: z.number().int() }),
  z.object({ kind: z.literal('head'), head: z.enum(['npr', 'sn']), checkpoint: z.string(), step: z.number().int() }),
]);

/** The evaluation's variance source: `covHeadFile` (the CLI's --cov-head-file) wins over settings' covRun. */
export function resolveEvalVariance(
  store: RunStore,
  target: StoredCheckpoint,
  s: EvalSettings,
  covHeadFile?: string,
): ResolvedVariance {
  const v = { ...s.variance, ...(covHeadFile ? { covHeadFile } : {}) };
  return resolveSampleVariance(store, target, s, v);
}

/** Progress units of the Γ estimate the eval job will make first (0 when it has one or needs none). */
export function evalEstimateWork(s: EvalSettings, r: ResolvedVariance): number {
  const e = r.fields.gammaEstimate;
  if (samplerParts(s.sampler).variance !== 'gamma' || !e || !r.trajectory) return 0;
  return gammaWork(r.trajectory.length, e.nImages, s.batchSize ?? 64);
}

/** A result's `variance` and `varianceRef` from what the engine used; a head's run id from the resolution. */
export function varianceIdentity(raw: unknown, r: ResolvedVariance): Pick<EvalResult, 'variance' | 'varianceRef'> {
  const p = UsedRecordSchema.safeParse(raw);
  if (!p.success) throw new Error(`the eval job's variance record is malformed: ${p.error.issues[0]!.message}`);
  const u = p.data;
  if (u.kind === 'none') return { variance: 'none', varianceRef: null };
  if (u.kind === 'gamma') return { variance: gammaVariance(u.nImages, u.seed), varianceRef: u.key };
  const covRunId = r.used.kind === 'head' ? r.used.covRunId : null;
  return { variance: headVariance(u.head, covRunId, u.checkpoint, u.step), varianceRef: u.checkpoint };
}

const gammaVariance = (nImages: number, seed: number) => `gamma n=${nImages} seed=${seed}`;
const headVariance = (head: string, covRunId: number | null, path: string, step: number) =>
  `${head} ${covRunId !== null ? `run #${covRunId}` : `file ${path}`} step ${step}`;

/**
 * The `variance` the results of a resolved source will be stored with, known before the engine runs (what a
 * study looks up to find the step counts it lacks); null when only the engine can tell (a head file's step).
 */
export function expectedVariance(r: ResolvedVariance): string | null {
  const u = r.used;
  if (u.kind === 'none') return 'none';
  if (u.kind === 'head') return u.step === null ? null : headVariance(u.head, u.covRunId, u.path, u.step);
  const g = (r.fields.gamma as { nImages: number; seed: number } | undefined) ?? r.fields.gammaEstimate!;
  return gammaVariance(g.nImages, g.seed);
}
