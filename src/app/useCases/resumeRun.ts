/**
 * Continuing a run: the guard (status, steps left, a readable last checkpoint) and the config changes a resume
 * may make (more steps, another backend), for the CLI's `sadpm resume` and the app's Resume/Start alike. Checked
 * before anything is stored, so a refused resume leaves the run as it was.
 */
import { parseRunConfig, BACKENDS, type Backend } from '../../shared/config';
import { RESUMABLE_STATUSES, type RunRecord } from '../../shared/records';
import type { RunStore } from '../../store/runStore';
import { readCheckpointHeader } from '../../engine/train/checkpoint';
import { readCovCheckpointHeader } from '../../engine/train/covCheckpoint';
import { CovConfigSchema } from '../../shared/covConfig';
import { adoptCheckpoints } from '../recovery';
import { FieldError } from '../../shared/errors';

/** A run the store cannot resume, with the reason in words; the app answers it as a conflict. */
export class NotResumableError extends Error {}

/** Throws NotResumableError unless `run` can continue from its latest checkpoint (or start, without one). */
export function assertResumable(store: RunStore, run: RunRecord): void {
  if (!RESUMABLE_STATUSES.includes(run.status)) {
    throw new NotResumableError(
      `run #${run.id} is ${run.status}; only ${RESUMABLE_STATUSES.join(', ')} runs can be resumed`,
    );
  }
  // A checkpoint that reached the disk but not the store (kill -9, full disk) is where resume goes on.
  adoptCheckpoints(store, run);
  const ck = store.checkpoints.latest(run.id);
  if (!ck) return;
  if (ck.step >= run.totalSteps) {
    throw new NotResumableError(
      `run #${run.id} already reached step ${ck.step} of ${run.totalSteps}; ` +
        `give more steps (N > ${ck.step}) to train longer`,
    );
  }
  // A missing, corrupt or foreign file is reported here, before an engine starts, and the run keeps its status.
  try {
    // A covariance run's checkpoints hold its head (issue 13).
    const h = run.kind === 'cov' ? readCovCheckpointHeader(ck.path) : readCheckpointHeader(ck.path);
    const floats = Object.values(h.groups)
      .flat()
      .reduce((a, e) => a + e.length, 0);
    const expected = h.dataOffset + 4 * floats;
    if (h.fileBytes !== expected) {
      throw new Error(`checkpoint ${ck.path}: truncated (expected ${expected} bytes, file is ${h.fileBytes})`);
    }
  } catch (err) {
    const why = (err as Error).message;
    throw new NotResumableError(`run #${run.id} cannot resume from its last checkpoint (step ${ck.step}): ${why}`);
  }
}

export interface ResumeChanges {
  /** A new total step count (must exceed the last checkpoint's step). */
  steps?: number;
  /** Train the rest on another backend. */
  backend?: Backend;
}

/**
 * Checks that run `id` can resume with `changes`, then stores the changed config. Returns the run as stored.
 * Throws with the reason (nothing stored) when it cannot.
 */
export function prepareResume(store: RunStore, run: RunRecord, changes: ResumeChanges = {}): RunRecord {
  if (changes.backend !== undefined && !BACKENDS.includes(changes.backend)) {
    throw new FieldError('backend', `expected one of ${BACKENDS.join(', ')}`, String(changes.backend));
  }
  const changed = changes.steps !== undefined || changes.backend !== undefined;
  if (run.kind === 'cov') return prepareCovResume(store, run, changed ? changes : null);
  const cfg = changed ? parseRunConfig({ ...run.config, ...changes }) : null;
  if (cfg && changes.steps !== undefined) assertMoreSteps(store, run.id, cfg.steps);
  assertResumable(store, cfg ? { ...run, totalSteps: cfg.steps } : run);
  if (cfg) store.runs.updateConfig(run.id, cfg);
  return store.runs.get(run.id)!;
}

/** A new step total must go past the run's last checkpoint. */
function assertMoreSteps(store: RunStore, runId: number, steps: number): void {
  const ck = store.checkpoints.latest(runId);
  if (ck && steps <= ck.step) {
    throw new FieldError('steps', `run #${runId} already reached step ${ck.step}; give more than ${ck.step}`, steps);
  }
}

/** prepareResume of a covariance run: the changes apply to its CovConfig (issue 13). */
function prepareCovResume(store: RunStore, run: RunRecord, changes: ResumeChanges | null): RunRecord {
  const r = changes ? CovConfigSchema.safeParse({ ...run.cov, ...changes }) : null;
  if (r && !r.success) {
    const i = r.error.issues[0]!;
    const field = String(i.path[0] ?? 'cov');
    throw new FieldError(field, i.message, changes?.[field as keyof ResumeChanges]);
  }
  const cov = r?.data ?? null;
  if (cov && changes?.steps !== undefined) assertMoreSteps(store, run.id, cov.steps);
  assertResumable(store, cov ? { ...run, totalSteps: cov.steps } : run);
  if (cov) store.runs.updateCov(run.id, cov);
  return store.runs.get(run.id)!;
}
