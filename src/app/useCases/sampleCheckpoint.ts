/**
 * Sampling a checkpoint (a grid or a filmstrip) in an engine process, recorded with its run. The app's Gallery,
 * Compare and Export and the CLI's `sadpm sample` all come here. The same seed gives the same noise, so two
 * checkpoints sampled with one seed are compared on the same noise. The variance samplers' source is resolved
 * first (sampleVariance.ts); a Γ estimate the job made is cached with the run.
 */
import { SampleJobResultSchema, type SampleJob, type SamplesMessage } from '../../shared/engineMessages';
import { parseGammaEstimate } from '../../shared/gammaEstimate';
import type { SampleRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { sampleRecordOf } from '../../store/recorder';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import { configOf, targetFiles, type CheckpointTarget } from './checkpointTarget';
import { FieldError } from '../../shared/errors';
import { cacheGamma } from './gammaEstimate';
import { resolveSampleVariance, type VarianceRequest, type VarianceUsed } from './sampleVariance';

export type SampleJobSettings = Omit<SampleJob, 'checkpointPath' | 'runDir' | 'gamma' | 'gammaEstimate' | 'covHead'> & {
  variance?: VarianceRequest;
};

export interface SampleOutcome {
  message: SamplesMessage;
  /** The stored record; null for a checkpoint outside the store. */
  record: SampleRecord | null;
  /** The variance source the grid used (Γ estimate key and whether it was cached, or the head). */
  variance: VarianceUsed;
}

export async function sampleCheckpoint(
  /** The store records results of a stored checkpoint; without one nothing is recorded. */
  deps: { store?: RunStore; spawn: SpawnEngine },
  target: CheckpointTarget,
  settings: SampleJobSettings,
  opts: JobOptions = {},
): Promise<SampleOutcome> {
  const files = targetFiles(target);
  const T = configOf(target).T;
  if (settings.steps > T) {
    throw new FieldError(
      'steps',
      `this run has T = ${T} diffusion steps; give ${T} or fewer sampling steps`,
      settings.steps,
    );
  }
  const { variance: request, ...rest } = settings;
  const variance = resolveSampleVariance(deps.store, target, rest, request);
  const job = { ...rest, ...variance.fields, ...files };
  const raw = await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'sample', jobId, job }), opts);
  const { gamma, ...message } = SampleJobResultSchema.parse(raw);
  if (gamma !== undefined) cacheGamma(deps.store, target, parseGammaEstimate(gamma, "the sample job's Γ estimate"));
  const stored =
    target.kind === 'stored' && deps.store ? { store: deps.store, run: target.run, ck: target.checkpoint } : null;
  const record = stored ? stored.store.samples.add(sampleRecordOf(message, stored.run.id, stored.ck.id)) : null;
  return { message, record, variance: variance.used };
}
