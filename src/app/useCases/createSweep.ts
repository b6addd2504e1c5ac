/**
 * Creating a sweep (issue 16): one run per cell of K × λ × seeds over a shared base config, recorded with the
 * sweep, all or nothing (a cell whose config is invalid stores nothing). Sending the runs to an executor is
 * `submitSweep`'s business: the local run queue, or one Slurm array job.
 */
import { join } from 'node:path';
import { RunConfigError } from '../../shared/config';
import { FieldError } from '../../shared/errors';
import { slug } from '../../shared/naming';
import type { RunRecord } from '../../shared/records';
import {
  cellRunName,
  MAX_SWEEP_CELLS,
  SweepRequestSchema,
  sweepCells,
  type SweepRecord,
  type SweepRequest,
} from '../../shared/sweep';
import type { RunStore } from '../../store/runStore';
import type { RunOutcome, RunService } from '../runService';
import { remoteRunsFolder, type SlurmExecutor } from '../executors/slurmExecutor';
import { createRun } from './createRun';

export interface CreatedSweep {
  sweep: SweepRecord;
  /** In cell order. */
  runs: RunRecord[];
}

/** Validates the request and stores the sweep and its runs (queued, not started). */
export function createSweep(store: RunStore, raw: SweepRequest): CreatedSweep {
  const parsed = SweepRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const field = i.path.filter((p) => typeof p === 'string').pop() ?? 'sweep';
    throw new FieldError(String(field), `${i.message} (at ${i.path.join('.') || 'the request'})`);
  }
  const req = parsed.data;
  if (req.executor === 'local' && req.slurm !== undefined) {
    throw new FieldError('executor', "Slurm options were given, but the executor is 'local' (use 'slurm')", 'local');
  }
  const cells = sweepCells(req.axes);
  if (cells.length > MAX_SWEEP_CELLS) {
    throw new FieldError('seeds', `${cells.length} cells is more than the ${MAX_SWEEP_CELLS} a sweep may hold`);
  }
  for (const key of ['k', 'lambda', 'seed'] as const) {
    if (key in req.base) throw new FieldError(key, `is swept: give it as an axis, not in the base config`);
  }
  const folder = req.executor === 'slurm' ? remoteRunsFolder(req.slurm ?? {}) : undefined;
  return store.writeTransaction(() => {
    const sweep = store.sweeps.create(
      {
        name: req.name ?? 'sweep',
        executor: req.executor,
        base: req.base,
        axes: req.axes,
        maxParallel: req.maxParallel ?? null,
        slurm: req.executor === 'slurm' ? (req.slurm ?? {}) : null,
      },
      [],
    );
    const name = req.name ?? `sweep-${sweep.id}`;
    if (req.name === undefined) store.sweeps.rename(sweep.id, name);
    const runs = cells.map((c) => {
      const runName = cellRunName(name, c);
      try {
        return createRun(store, {
          config: { ...req.base, k: c.k, lambda: c.lambda, seed: c.seed, name: runName },
          tags: [...new Set([...req.tags, `sweep-${sweep.id}`])],
          // This machine's cluster with a folder of the user's: the runs' folders go there (the nodes share it).
          runDir:
            folder !== undefined
              ? join(folder, `sweep-${sweep.id}-${slug(name, 'sweep')}`, slug(runName, 'run'))
              : undefined,
        });
      } catch (err) {
        const where = `cell k=${c.k} λ=${c.lambda} seed=${c.seed}`;
        if (err instanceof RunConfigError) {
          const first = err.issues[0]!;
          throw new FieldError(first.field, `${where}: ${first.message}`);
        }
        throw new Error(`${where}: ${(err as Error).message}`);
      }
    });
    store.sweeps.addCells(
      sweep.id,
      cells.map((c, i) => ({ ...c, runId: runs[i]!.id })),
    );
    return { sweep: store.sweeps.get(sweep.id)!, runs };
  });
}

export interface SweepExecutors {
  runs: RunService;
  slurm: SlurmExecutor;
}

/**
 * Sends the sweep's runs to its executor: the local queue (max-parallel sets its concurrency; the promises of
 * the runs' ends are returned) or one Slurm array job. If Slurm refuses the job, the sweep and its runs are
 * removed again (they never ran anywhere).
 */
export async function submitSweep(
  store: RunStore,
  ex: SweepExecutors,
  created: CreatedSweep,
): Promise<Promise<RunOutcome>[]> {
  const { sweep, runs } = created;
  if (sweep.executor === 'local') {
    if (sweep.maxParallel !== null) ex.runs.setConcurrency(sweep.maxParallel);
    return runs.map((r) => ex.runs.enqueue(r.id));
  }
  try {
    const jobId = await ex.slurm.submit(runs, {
      slurm: sweep.slurm ?? {},
      maxParallel: sweep.maxParallel ?? undefined,
      jobName: `sadpm-sweep-${sweep.id}`,
    });
    store.sweeps.setJob(sweep.id, jobId);
    return [];
  } catch (err) {
    store.writeTransaction(() => {
      for (const r of runs) store.runs.delete(r.id, { deleteFiles: true });
      store.sweeps.delete(sweep.id);
    });
    throw err;
  }
}
