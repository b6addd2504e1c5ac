/** Contract handlers for runs: list, detail, validate, create, start/resume/pause/stop, edit, delete, metrics. */
import { RunConfigError } from '../../shared/config';
import type { RunRecord } from '../../shared/records';
import type { Services } from '../services';
import { createRun, resolveRunInput } from '../useCases/createRun';
import { assertResumable, NotResumableError, prepareResume } from '../useCases/resumeRun';
import { estimateRun } from '../useCases/estimateRun';
import { ApiFailure, failAs, notFound, type Handlers } from './dispatch';
import { FieldError } from '../../shared/errors';
import { RemoteRunConflict } from '../executors/slurmExecutor';

type RunHandlers = Pick<
  Handlers,
  | 'runs.list'
  | 'runs.get'
  | 'runs.validate'
  | 'runs.create'
  | 'runs.start'
  | 'runs.resume'
  | 'runs.pause'
  | 'runs.stop'
  | 'runs.update'
  | 'runs.delete'
  | 'metrics.series'
  | 'metrics.overlay'
  | 'gap.list'
  | 'runs.groups'
  | 'metrics.window'
  | 'runs.overview'
>;

export function requireRun(s: Services, id: number): RunRecord {
  const run = s.store.runs.get(id);
  if (!run) throw notFound(`no run #${id}`);
  return run;
}

/** Field errors of a config that failed to resolve. */
function configIssues(err: unknown): { field: string; message: string }[] {
  if (err instanceof RunConfigError) return err.issues;
  return [{ field: '(config)', message: (err as Error).message }];
}

/** A run that is neither running nor waiting in the queue (after a just-ended engine has exited). */
async function idleRun(s: Services, id: number): Promise<RunRecord> {
  await s.runs.settle(id);
  const run = requireRun(s, id);
  if (s.runs.isActive(id) || s.runs.queued().includes(id)) {
    throw new ApiFailure('conflict', `run #${id} is already ${run.status}`);
  }
  return run;
}

/** A run on Slurm: stop and pause are scancel (the task checkpoints first); the next poll records the end. */
async function remoteCancel(s: Services, id: number, intent: 'stopped' | 'paused'): Promise<RunRecord> {
  try {
    await s.slurm.cancel(id, intent);
  } catch (err) {
    throw new ApiFailure(err instanceof RemoteRunConflict ? 'conflict' : 'failed', (err as Error).message);
  }
  return s.store.runs.get(id)!;
}

/** A run on Slurm that ended: sent again as a one-task job; it resumes from its latest checkpoint. */
async function remoteResume(s: Services, id: number, steps?: number): Promise<RunRecord> {
  requireRun(s, id);
  try {
    await s.slurm.resume(id, { steps });
  } catch (err) {
    if (err instanceof FieldError) throw err;
    const conflict = err instanceof NotResumableError || err instanceof RemoteRunConflict;
    throw new ApiFailure(conflict ? 'conflict' : 'failed', (err as Error).message);
  }
  return s.store.runs.get(id)!;
}

export function runHandlers(s: Services): RunHandlers {
  const enqueue = (run: RunRecord, resume: boolean) => {
    s.runs.enqueue(run.id, { resume }).catch(() => {
      // The outcome is recorded in the store and announced as run.updated.
    });
  };
  const asConflict = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new ApiFailure(err instanceof NotResumableError ? 'conflict' : 'invalid', (err as Error).message);
    }
  };
  return {
    'runs.list': (f) => ({
      runs: s.store.runs.list(f),
      total: s.store.runs.count({ ...f, limit: undefined, offset: undefined }),
    }),
    'runs.get': ({ id }) => {
      const run = requireRun(s, id);
      const q = s.runs.queued().indexOf(id);
      return {
        run,
        checkpoints: s.store.checkpoints.list(id),
        samples: s.store.samples.list(id),
        metricNames: s.store.metrics.names(id),
        disk: s.store.runs.diskUse(id),
        retention: s.store.runs.retention(id),
        active: s.runs.isActive(id) || s.store.remote.get(id)?.final === false,
        queuePosition: q >= 0 ? q : null,
      };
    },
    'runs.validate': ({ config }) => {
      try {
        const { cfg } = resolveRunInput(s.store, config);
        return { ok: true, errors: [], config: cfg, estimate: estimateRun(s.store, cfg) };
      } catch (err) {
        return { ok: false, errors: configIssues(err), config: null, estimate: null };
      }
    },
    'runs.create': ({ config, tags, notes, retention, start }) => {
      let run: RunRecord;
      try {
        run = createRun(s.store, { config, tags, notes, retention });
      } catch (err) {
        throw new ApiFailure(
          'invalid',
          configIssues(err)
            .map((i) => `${i.field}: ${i.message}`)
            .join('; '),
        );
      }
      if (start) enqueue(run, false);
      return s.store.runs.get(run.id)!;
    },
    'runs.start': async ({ id }) => {
      if (s.slurm.isRemote(id)) return remoteResume(s, id);
      const run = await idleRun(s, id);
      const hasCheckpoint = s.store.checkpoints.latest(id) !== undefined;
      if (hasCheckpoint) asConflict(() => assertResumable(s.store, run));
      enqueue(run, hasCheckpoint);
      return s.store.runs.get(id)!;
    },
    'runs.resume': async ({ id, steps }) => {
      if (s.slurm.isRemote(id)) return remoteResume(s, id, steps);
      const run = await idleRun(s, id);
      const fresh = asConflict(() => prepareResume(s.store, run, { steps }));
      enqueue(fresh, s.store.checkpoints.latest(id) !== undefined);
      return s.store.runs.get(id)!;
    },
    'runs.pause': async ({ id }) => {
      requireRun(s, id);
      if (s.slurm.isRemote(id)) return remoteCancel(s, id, 'paused');
      failAs('conflict', () => s.runs.stop(id, 'paused'));
      return s.store.runs.get(id)!;
    },
    'runs.stop': async ({ id }) => {
      requireRun(s, id);
      if (s.slurm.isRemote(id)) return remoteCancel(s, id, 'stopped');
      failAs('conflict', () => s.runs.stop(id, 'stopped'));
      return s.store.runs.get(id)!;
    },
    'runs.update': ({ id, name, notes, tags }) => {
      requireRun(s, id);
      if (name !== undefined) s.store.runs.rename(id, name);
      if (notes !== undefined) s.store.runs.setNotes(id, notes);
      if (tags !== undefined) s.store.runs.setTags(id, tags);
      const run = s.store.runs.get(id)!;
      s.emit('run.updated', run);
      return run;
    },
    'runs.delete': ({ id, deleteFiles }) => {
      requireRun(s, id);
      if (s.runs.isActive(id)) throw new ApiFailure('conflict', `run #${id} is running; stop it first`);
      if (s.store.remote.get(id)?.final === false) {
        throw new ApiFailure('conflict', `run #${id} is in Slurm (task ${s.store.remote.get(id)!.ref}); stop it first`);
      }
      if (s.runs.queued().includes(id)) s.runs.stop(id);
      s.store.runs.delete(id, { deleteFiles });
      return { ok: true as const };
    },
    'metrics.series': ({ runId, names, maxPoints }) => {
      requireRun(s, runId);
      return names.map((n) => s.store.metrics.series(runId, n, maxPoints));
    },
    'metrics.overlay': ({ runIds, name, maxPoints }) => s.store.metrics.overlay(runIds, name, maxPoints),
    'gap.list': ({ runId }) => s.store.gaps.list(runId),
    // issue 15: the experiment table's groups and zoomed charts.
    'runs.groups': ({ filter, by, columns }) => failAs('invalid', () => s.store.runs.groups(filter, by, columns)),
    'metrics.window': ({ runIds, names, from, to, maxPoints }) =>
      runIds.flatMap((runId) =>
        names.map((name) => ({ runId, series: s.store.metrics.series(runId, name, maxPoints, { from, to }) })),
      ),
    'runs.overview': () => s.store.runs.overview(),
  };
}
