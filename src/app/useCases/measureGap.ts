/**
 * The estimation gap of a checkpoint (the paper's Figure 4) on its run's held-out images, measured in an engine
 * process and recorded with its run: `sadpm gap` and the app's "measure the gap" share this path.
 */
import { GapMessageSchema, type GapJob, type GapMessage } from '../../shared/engineMessages';
import type { RunStore } from '../../store/runStore';
import { gapRecordOf } from '../../store/recorder';
import { runEngineJob, type JobOptions } from '../engineJob';
import type { SpawnEngine } from '../engineProcess';
import { configOf, targetFiles, type CheckpointTarget } from './checkpointTarget';
import { FieldError } from '../../shared/errors';
import type { RunConfig } from '../../shared/config';
import { datasetCount, gapImageCount } from '../../engine/data/loader';

export type GapSettings = Omit<GapJob, 'checkpointPath' | 'runDir'>;

/**
 * Refuses a t0 past the run's T and more images than the run holds out, before an engine starts (seconds on a
 * GPU). The engine checks again; this is for an early, clear answer.
 */
export function checkGapSettings(cfg: RunConfig, settings: GapSettings): void {
  if (settings.t0 !== undefined && settings.t0 > cfg.T) {
    throw new FieldError('t0', `expected an integer in 1..${cfg.T} (the run's T), got ${settings.t0}`, settings.t0);
  }
  if (settings.n !== undefined) {
    const count = datasetCount(cfg.dataset);
    const held = gapImageCount(count, cfg.gapBatch);
    if (settings.n > held) {
      const why = `the run holds ${held} of its ${count} images out of training for the gap monitor, and the others were trained on`;
      throw new FieldError('n', `expected an integer in 1..${held}: ${why}`, settings.n);
    }
  }
}

export async function measureGap(
  /** The store records results of a stored checkpoint; without one nothing is recorded. */
  deps: { store?: RunStore; spawn: SpawnEngine },
  target: CheckpointTarget,
  settings: GapSettings,
  opts: JobOptions = {},
): Promise<GapMessage> {
  checkGapSettings(configOf(target), settings);
  const raw = await runEngineJob(
    deps.spawn,
    (jobId) => ({ cmd: 'gap', jobId, job: { ...settings, ...targetFiles(target) } }),
    opts,
  );
  const message = GapMessageSchema.parse(raw);
  if (target.kind === 'stored' && deps.store) deps.store.gaps.add(gapRecordOf(message, target.run.id));
  return message;
}
