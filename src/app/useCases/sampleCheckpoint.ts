/**
 * Sampling a checkpoint (a grid or a filmstrip) in an engine process, recorded with its run. The app's Gallery,
 * Compare and Export and the CLI's `sadpm sample` all come here. The same seed gives the same noise, so two
 * checkpoints sampled with one seed are compared on the same noise.
 */
import { SamplesMessageSchema, type SampleJob, type SamplesMessage } from '../../shared/engineMessages';
import type { SampleRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { sampleRecordOf } from '../../store/recorder';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import { configOf, targetFiles, type CheckpointTarget } from './checkpointTarget';
import { FieldError } from '../../shared/errors';

export type SampleJobSettings = Omit<SampleJob, 'checkpointPath' | 'runDir'>;

export interface SampleOutcome {
  message: SamplesMessage;
  /** The stored record; null for a checkpoint outside the store. */
  record: SampleRecord | null;
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
    throw new FieldError('steps', `this run has T = ${T} diffusion steps; give ${T} or fewer sampling steps`, settings.steps);
  }
  const job = { ...settings, ...files };
  const raw = await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'sample', jobId, job }), opts);
  const message = SamplesMessageSchema.parse(raw);
  const stored = target.kind === 'stored' && deps.store
    ? { store: deps.store, run: target.run, ck: target.checkpoint }
    : null;
  const record = stored ? stored.store.samples.add(sampleRecordOf(message, stored.run.id, stored.ck.id)) : null;
  return { message, record };
}
