/**
 * The estimation gap of a checkpoint (the paper's Figure 4) on its run's held-out images, measured in an engine
 * process and recorded with its run: `sadpm gap` and the app's "measure the gap" share this path.
 */
import { GapMessageSchema, type GapJob, type GapMessage } from '../../shared/engineMessages';
import type { RunStore } from '../../store/runStore';
import { gapRecordOf } from '../../store/recorder';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import { targetFiles, type CheckpointTarget } from './checkpointTarget';

export type GapSettings = Omit<GapJob, 'checkpointPath' | 'runDir'>;

export async function measureGap(
  /** The store records results of a stored checkpoint; without one nothing is recorded. */
  deps: { store?: RunStore; spawn: SpawnEngine },
  target: CheckpointTarget,
  settings: GapSettings,
  opts: JobOptions = {},
): Promise<GapMessage> {
  if (target.kind === 'stored' && settings.t0 !== undefined && settings.t0 > target.run.T) {
    throw new Error(`t0: expected an integer in 1..${target.run.T} (run #${target.run.id}'s T), got ${settings.t0}`);
  }
  const raw = await runEngineJob(deps.spawn, (jobId) => ({ cmd: 'gap', jobId, job: { ...settings, ...targetFiles(target) } }), opts);
  const message = GapMessageSchema.parse(raw);
  if (target.kind === 'stored' && deps.store) deps.store.gaps.add(gapRecordOf(message, target.run.id));
  return message;
}
