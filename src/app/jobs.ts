/**
 * Long actions the UI starts (imports, sampling, exports): each gets an id, reports progress and
 * its end as events, and can be cancelled.
 */
export type JobEvent =
  | { kind: 'progress'; jobId: string; done: number; total: number }
  | { kind: 'done'; jobId: string; ok: boolean; error?: string; result?: unknown };

export type JobFn = (signal: AbortSignal, onProgress: (done: number, total: number) => void) => Promise<unknown>;

export class JobRegistry {
  private readonly running = new Map<string, AbortController>();
  private seq = 0;

  constructor(private readonly emit: (e: JobEvent) => void) {}

  start(kind: string, fn: JobFn): string {
    const jobId = `${kind}-${Date.now().toString(36)}-${++this.seq}`;
    const ctl = new AbortController();
    this.running.set(jobId, ctl);
    const onProgress = (done: number, total: number) => this.emit({ kind: 'progress', jobId, done, total });
    // Start on the next tick so the caller can return the id before the first event.
    setImmediate(() => {
      fn(ctl.signal, onProgress).then(
        (result) => this.emit({ kind: 'done', jobId, ok: true, result }),
        (err: Error) => this.emit({ kind: 'done', jobId, ok: false, error: ctl.signal.aborted ? 'cancelled' : err.message }),
      ).finally(() => this.running.delete(jobId));
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
