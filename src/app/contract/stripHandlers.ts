/** Issue 12/15: contract handlers of the strip over training (one fixed noise at every checkpoint of a run). */
import type { Services } from '../services';
import { planStrip, sampleStrip } from '../useCases/sampleStrip';
import { failAs, type Handlers } from './dispatch';
import { requireRun } from './runHandlers';

export function stripHandlers(s: Services): Pick<Handlers, 'samples.stripPlan' | 'samples.strip'> {
  return {
    'samples.stripPlan': ({ runId, settings }) => ({
      columns: failAs('failed', () => planStrip(s.store, requireRun(s, runId), settings)),
    }),
    'samples.strip': ({ runId, settings }) => {
      const run = requireRun(s, runId);
      // Bad settings are refused now, before a job id is handed out.
      failAs('failed', () => planStrip(s.store, run, settings));
      const jobId = s.jobs.start('strip', (signal, onProgress) =>
        sampleStrip(s, run, settings, { signal, onProgress }),
      );
      return { jobId };
    },
  };
}
