/** Contract handlers for sweeps (issue 16): create (and send to the executor), list, the grid, cancel. */
import { statusCounts, type SweepDetail } from '../../shared/sweep';
import type { Services } from '../services';
import { parseTarget } from '../executors/slurm/target';
import { createSweep, submitSweep } from '../useCases/createSweep';
import { failAs, notFound, type Handlers } from './dispatch';

type SweepHandlers = Pick<Handlers, 'sweeps.create' | 'sweeps.list' | 'sweeps.get' | 'sweeps.cancel'>;

function detail(s: Services, id: number): SweepDetail {
  const sweep = s.store.sweeps.get(id);
  if (!sweep) throw notFound(`no sweep #${id}`);
  return { sweep, cells: s.store.sweeps.cells(id) };
}

export function sweepHandlers(s: Services): SweepHandlers {
  return {
    'sweeps.create': async (req) => {
      const created = failAs('invalid', () => createSweep(s.store, req));
      const done = await submitSweep(s.store, { runs: s.runs, slurm: s.slurm }, created);
      for (const d of done) {
        d.catch(() => {
          // Each cell's outcome is recorded in the store and announced as run.updated.
        });
      }
      return detail(s, created.sweep.id);
    },
    'sweeps.list': () =>
      s.store.sweeps.list().map((sweep) => {
        const cells = s.store.sweeps.cells(sweep.id);
        return { sweep, counts: statusCounts(cells), cells: cells.length };
      }),
    'sweeps.get': ({ id }) => detail(s, id),
    'sweeps.cancel': async ({ id }) => {
      const { cells } = detail(s, id);
      const jobs = new Map<number, { target: unknown; runId: number }>();
      for (const c of cells) {
        if (c.runId === null) continue;
        const remote = s.store.remote.get(c.runId);
        if (remote && !remote.final) jobs.set(remote.jobId, { target: remote.target, runId: c.runId });
        else if (!remote && (s.runs.isActive(c.runId) || s.runs.queued().includes(c.runId))) s.runs.stop(c.runId);
      }
      // The sweep's array job, and the one-task jobs of cells resumed since.
      for (const [jobId, r] of jobs) await s.slurm.cancelJob(jobId, parseTarget(r.target, r.runId));
      return detail(s, id);
    },
  };
}
