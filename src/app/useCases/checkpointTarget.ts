/**
 * The checkpoint a sampling or gap job works on: one the store knows (its results are recorded with its run),
 * or a checkpoint file in a run folder outside the store (`sadpm sample --run-dir DIR`; nothing is recorded).
 */
import type { CheckpointRecord, RunRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { parseRunConfig, type RunConfig } from '../../shared/config';
import { readCheckpointHeader } from '../../engine/train/checkpoint';

export type StoredCheckpoint = { kind: 'stored'; run: RunRecord; checkpoint: CheckpointRecord };
export type CheckpointTarget = StoredCheckpoint | { kind: 'file'; runDir: string; path: string };

/** A stored checkpoint by id, with its run; a clear error when there is none. */
export function storedCheckpoint(store: RunStore, checkpointId: number): StoredCheckpoint {
  const checkpoint = store.checkpoints.get(checkpointId);
  if (!checkpoint) throw new Error(`no checkpoint #${checkpointId}`);
  const run = store.runs.get(checkpoint.runId);
  if (!run) throw new Error(`checkpoint #${checkpointId} belongs to run #${checkpoint.runId}, which is gone`);
  refuseCovRun(run);
  return { kind: 'stored', run, checkpoint };
}

/** A covariance run's checkpoints hold a head, not a model: it is sampled through its parent (issue 13). */
function refuseCovRun(run: RunRecord): void {
  if (run.kind !== 'cov' || !run.cov) return;
  const k = run.cov.kind;
  const what = `run #${run.id} is a covariance run (an ${k.toUpperCase()} head of run #${run.parentId})`;
  throw new Error(`${what}: sample run #${run.parentId} with the ${k}-ddpm or ${k}-ddim sampler`);
}

/** A run's checkpoint at `which` ('latest' or a step), listing the ones it has when that one is missing. */
export function runCheckpoint(store: RunStore, run: RunRecord, which: 'latest' | number): StoredCheckpoint {
  refuseCovRun(run);
  const checkpoint = which === 'latest' ? store.checkpoints.latest(run.id) : store.checkpoints.at(run.id, which);
  if (!checkpoint) {
    const have = store.checkpoints.list(run.id).map((c) => c.step);
    const what = which === 'latest' ? ' yet' : ` at step ${which}`;
    throw new Error(`run #${run.id} has no checkpoint${what} (checkpoints: ${have.join(', ') || 'none'})`);
  }
  return { kind: 'stored', run, checkpoint };
}

/** The run config a target's checkpoint was trained with (a file target: from its header). */
export function configOf(t: CheckpointTarget): RunConfig {
  return t.kind === 'stored' ? t.run.config : parseRunConfig(readCheckpointHeader(t.path).config);
}

export function targetFiles(t: CheckpointTarget): { checkpointPath: string; runDir: string } {
  return t.kind === 'stored'
    ? { checkpointPath: t.checkpoint.path, runDir: t.run.runDir }
    : { checkpointPath: t.path, runDir: t.runDir };
}
