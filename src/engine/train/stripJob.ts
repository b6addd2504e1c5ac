/**
 * Issue 12/15: the same noise sampled at several checkpoints of a run, one column grid per checkpoint, in one
 * engine process (the backend starts once). Each column is an ordinary sample job with one column, so its grid,
 * sidecar and record are those of any other grid; the same seed draws the same x_T and per-step noise in every
 * column (samplers/index.ts keys them by seed and image, never by checkpoint).
 */
import type { SampleJobResult, StripJob, StripJobResult } from '../../shared/engineMessages';
import { sampleJob } from './checkpointJobs';

type OnStep = (done: number, total: number) => void;

/**
 * Samples the columns in order. It stops at a cancel or a failure and still returns the columns already written,
 * so the app records them and a later strip does not sample them again.
 */
export async function stripJob(job: StripJob, signal: AbortSignal, onStep: OnStep): Promise<StripJobResult> {
  const { columns, ...common } = job;
  const done: SampleJobResult[] = [];
  let before = 0;
  for (let i = 0; i < columns.length; i++) {
    let columnTotal = 0;
    // Later columns are assumed to cost what this one does (they do, but for a Γ estimated in one of them).
    const progress: OnStep = (k, total) => {
      columnTotal = total;
      onStep(before + k, before + total * (columns.length - i));
    };
    try {
      done.push(await sampleJob({ ...common, ...columns[i]!, cols: 1 }, signal, progress));
    } catch (err) {
      return { columns: done, stopped: { cancelled: signal.aborted, error: (err as Error).message } };
    }
    before += columnTotal;
  }
  return { columns: done };
}
