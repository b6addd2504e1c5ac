/**
 * Long actions the UI starts (imports, sampling, exports, gap measurements): each gets an id, reports
 * progress and its end as events, and can be cancelled. A job's result has its kind's type (JOB_RESULTS in
 * the contract), so the renderer never guesses its shape.
 */
import type { JobKind, JobResult } from '../shared/contract';

export type JobEvent =
  | { type: 'progress'; jobId: string; done: number; total: number }
  | { type: 'done'; jobId: string; kind: JobKind; ok: boolean; error?: string; result?: unknown };

export type JobFn<T> = (signal: AbortSignal, onProgress: (done: number, total: number) => void) => Promise<T>;

export class JobRegistry {
  private readonly running = new Map<string, AbortController>();
  private seq = 0;

  constructor(private readonly emit: (e: JobEvent) => void) {}

  start<K extends JobKind>(kind: K, fn: JobFn<JobResult<K>>): string {
    const jobId = `${kind}-${Date.now().toString(36)}-${++this.seq}`;
    const ctl = new AbortController();
    this.running.set(jobId, ctl);
    const onProgress = (done: number, total: number) => this.emit({ type: 'progress', jobId, done, total });
    // Start on the next tick so the caller can return the id before the first event.
    setImmediate(() => {
      fn(ctl.signal, onProgress)
        .then(
          (result) => this.emit({ type: 'done', jobId, kind, ok: true, result }),
          (err: Error) =>
            this.emit({ type: 'done', jobId, kind, ok: false, error: ctl.signal.aborted ? 'cancelled' : err.message }),
        )
        .finally(() => this.running.delete(jobId));
    });
    return jobId;
  }

  cancel(jobId: string): boolean {
    const ctl = this.running.get(jobId);
    ctl?.abort();
    return ctl !== undefined;
  }

  cancelAll(): void {
    for (const c of this.running.values()) c.abort();
  }

  get size(): number {
    return this.running.size;
  }
}
