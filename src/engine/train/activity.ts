/**
 * Tells the run's listeners what the trainer is doing between progress messages (a grid of samples
 * or the gap monitor can take minutes on a small machine). Step-by-step progress within one activity
 * is thinned to one message per `minMs`; the first and last always go out.
 */
import type { Activity, EngineSink } from '../../shared/engineMessages';

export class ActivityReporter {
  private current: Activity | null = null;
  private lastSent = 0;

  constructor(
    private readonly sink: EngineSink,
    private readonly minMs = 200,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Enters an activity (sent only when it changes). */
  enter(step: number, activity: Activity, total?: number): void {
    if (this.current === activity && total === undefined) return;
    this.current = activity;
    this.lastSent = this.now();
    this.sink({ type: 'activity', step, activity, ...(total === undefined ? {} : { done: 0, total }) });
  }

  /** A progress callback for sampling or the gap monitor at this training step. */
  progress(step: number, activity: Activity): (done: number, total: number) => void {
    return (done, total) => {
      const t = this.now();
      if (this.current === activity && done < total && t - this.lastSent < this.minMs) return;
      this.current = activity;
      this.lastSent = t;
      this.sink({ type: 'activity', step, activity, done, total });
    };
  }
}
