/**
 * One-off engine jobs (import, sample) in their own engine process: progress, cancel, result.
 */
import type { EngineCommand } from '../shared/engineMessages';
import type { SpawnEngine } from './engineProcess';

export interface JobOptions {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

let seq = 0;

export function runEngineJob(
  spawn: SpawnEngine,
  make: (jobId: string) => EngineCommand,
  opts: JobOptions = {},
): Promise<unknown> {
  if (opts.signal?.aborted) return Promise.reject(new Error('cancelled'));
  const jobId = `j${process.pid}-${++seq}`;
  const proc = spawn();
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      proc.send({ cmd: 'exit' });
    };
    proc.onMessage((m) => {
      if (m.type === 'jobProgress' && m.jobId === jobId) opts.onProgress?.(m.done, m.total);
      else if (m.type === 'jobDone' && m.jobId === jobId)
        settle(() => (m.ok ? resolve(m.result) : reject(new Error(m.error ?? 'the job failed'))));
      // This process runs this one job, so a refusal without a job id is about it too.
      else if (m.type === 'rejected' && (m.jobId === jobId || m.jobId === null)) {
        settle(() => reject(new Error(`the engine refused the job: ${m.error}`)));
      }
    });
    proc.onExit((code, signal) => {
      const tail = proc.stderrTail().trim().split('\n').slice(-3).join(' | ');
      settle(() =>
        reject(
          new Error(`the engine process ended during the job (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`),
        ),
      );
    });
    opts.signal?.addEventListener('abort', () => proc.send({ cmd: 'cancel', jobId }), { once: true });
    proc.send(make(jobId));
  });
}
