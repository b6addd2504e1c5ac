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
  if (u.kind === 'gamma') return { variance: `gamma n=${u.nImages} seed=${u.seed}`, varianceRef: u.key };
  const run = r.used.kind === 'head' && r.used.covRunId !== null ? `run #${r.used.covRunId}` : `file ${u.checkpoint}`;
  return { variance: `${u.head} ${run} step ${u.step}`, varianceRef: u.checkpoint };
}
