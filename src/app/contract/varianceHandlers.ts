/** Contract handlers of issue 13: covariance-head runs (children of a training run) and Γ estimates. */
import type { Services } from '../services';
import { storedCheckpoint } from '../useCases/checkpointTarget';
import { createCovRun } from '../useCases/covRuns';
import { estimateGammaCached, gammaSource, trajectoryUnion } from '../useCases/gammaEstimate';
import { failAs, type Handlers } from './dispatch';
import { requireRun } from './runHandlers';

type VarianceHandlers = Pick<Handlers, 'runs.createCov' | 'gamma.estimate' | 'gamma.list'>;

export function varianceHandlers(s: Services): VarianceHandlers {
  const checkpoint = (id: number) => failAs('not_found', () => storedCheckpoint(s.store, id));
  return {
    'runs.createCov': ({ checkpointId, ema, kind, steps, batch, lr, checkpointEvery, start }) => {
      const { run, checkpoint: ck } = checkpoint(checkpointId);
      const req = { kind, steps, ema, batch, lr, checkpointEvery, checkpoint: ck.step };
      const cov = failAs('invalid', () => createCovRun(s.store, run, req));
      s.emit('run.updated', cov);
      if (start) {
        s.runs.enqueue(cov.id).catch(() => {
          // The outcome is recorded in the store and announced as run.updated.
        });
      }
      return s.store.runs.get(cov.id)!;
    },
    'gamma.estimate': ({ checkpointId, ema, steps, spacing, nImages, seed }) => {
      const target = checkpoint(checkpointId);
      // Bad settings are answered now, not as a failed job.
      const trajectory = failAs('invalid', () => {
        gammaSource(target, { ema, nImages, seed }, { n: 'nImages', seed: 'seed' });
        return trajectoryUnion(target.run.T, steps, spacing);
      });
      const jobId = s.jobs.start('gamma', async (signal, onProgress) => {
        const req = { ema, nImages, seed, trajectory };
        const { estimate, cached } = await estimateGammaCached(s, target, req, { signal, onProgress });
        return { ...estimate, cached };
      });
      return { jobId };
    },
    'gamma.list': ({ runId }) => {
      requireRun(s, runId);
      return s.store.gammas.list(runId);
    },
  };
}
