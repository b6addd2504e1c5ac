/** Contract handlers for work on checkpoints (samples, filmstrips, the gap) and exports. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { gridExportFileName } from '../../shared/naming';
import type { Services } from '../services';
import { storedCheckpoint } from '../useCases/checkpointTarget';
import { sampleCheckpoint } from '../useCases/sampleCheckpoint';
import { measureGap } from '../useCases/measureGap';
import { exportRunBundle, exportRunMetrics } from '../useCases/exportRun';
import { gapRecordOf } from '../../store/recorder';
import { failAs, type Handlers } from './dispatch';
import { requireRun } from './runHandlers';

type SampleHandlers = Pick<
  Handlers,
  | 'samples.list'
  | 'samples.generate'
  | 'samples.filmstrip'
  | 'gap.measure'
  | 'export.grid'
  | 'export.metrics'
  | 'export.bundle'
>;

export function sampleHandlers(s: Services): SampleHandlers {
  const checkpoint = (id: number) => failAs('not_found', () => storedCheckpoint(s.store, id));
  return {
    'samples.list': ({ runId }) => s.store.samples.list(runId),
    'samples.generate': ({ checkpointId, settings }) => {
      const target = checkpoint(checkpointId);
      const job = s.jobs.start('sample', async (signal, onProgress) => {
        const { record } = await sampleCheckpoint(s, target, settings, { signal, onProgress });
        return record!;
      });
      return { jobId: job };
    },
    'samples.filmstrip': ({ checkpointId, settings, frames, x0 }) => {
      const target = checkpoint(checkpointId);
      const job = s.jobs.start('filmstrip', async (signal, onProgress) => {
        const strip = { ...settings, n: 1, filmstripFrames: frames, filmstripX0: x0 };
        const { record } = await sampleCheckpoint(s, target, strip, { signal, onProgress });
        return record!;
      });
      return { jobId: job };
    },
    'gap.measure': ({ checkpointId, ema, t0 }) => {
      const target = checkpoint(checkpointId);
      const job = s.jobs.start('gap', async (signal, onProgress) => {
        const msg = await measureGap(s, target, { ema, t0 }, { signal, onProgress });
        return gapRecordOf(msg, target.run.id);
      });
      return { jobId: job };
    },
    'export.grid': ({ checkpointId, settings, cols, padding, labels }) => {
      const target = checkpoint(checkpointId);
      const { run, checkpoint: ck } = target;
      const out = join(s.store.layout.exports, gridExportFileName(run, ck.step, settings));
      const ema = settings.ema ? ' EMA' : '';
      const caption = labels
        ? `RUN ${run.id} ${run.name} STEP ${ck.step} ${settings.sampler} ${settings.steps} STEPS ` +
          `ETA ${settings.eta} SEED ${settings.seed}${ema}`
        : undefined;
      const job = s.jobs.start('export', async (signal, onProgress) => {
        const grid = { ...settings, out, cols, padding, caption };
        const { record } = await sampleCheckpoint(s, target, grid, { signal, onProgress });
        const bytes = statSync(out).size;
        s.store.exports.record(run.id, 'grid', out, bytes);
        return { path: out, sidecar: out.replace(/\.png$/, '.json'), bytes, sample: record! };
      });
      return { jobId: job };
    },
    'export.metrics': ({ runId, format }) => exportRunMetrics(s.store, requireRun(s, runId), format),
    'export.bundle': async ({ runId, checkpoints }) => {
      const { path, bytes } = await exportRunBundle(s.store, requireRun(s, runId), checkpoints);
      return { path, bytes };
    },
  };
}
