/**
 * A Slurm run's status in the studio, from two witnesses: Slurm (is the task pending, running, requeued,
 * cancelled, timed out?) and the run's own engine messages (did training complete, fail, or stop?). Training's
 * own end wins where it is decisive (completed, failed); otherwise Slurm says whether the task comes back.
 */
import type { RunStatus } from '../../../shared/records';
import type { MappedState } from './states';

/** How an attempt's engine ended, as its messages said (the store's AttemptEnd). */
export interface AttemptEnd {
  status: RunStatus;
  reason: string | null;
}

export interface RemoteStatus {
  status: RunStatus;
  reason: string | null;
  /** Neither Slurm nor the messages will change it any more. */
  final: boolean;
}

export interface RemoteFacts {
  /** Slurm's state of the task, mapped (states.ts); null when Slurm no longer knows the job. */
  slurm: (MappedState & { state: string }) | null;
  /** How the current attempt's engine ended, from its messages; null while it trains or before it started. */
  end: AttemptEnd | null;
  /** What the user asked for with a cancel (stop or pause), if anything. */
  stopIntent: 'stopped' | 'paused' | null;
  /** The latest recorded checkpoint's step, to say where a resume continues. */
  lastCheckpoint: number | null;
  /** The Slurm task, for messages ("12_3"). */
  ref: string;
}

function resumeFrom(ck: number | null): string {
  return ck !== null ? `resume continues from step ${ck}` : 'no checkpoint was written yet';
}

export function remoteStatus(f: RemoteFacts): RemoteStatus {
  // Training said it is done or broken: that is the run's outcome whatever the task does next.
  if (f.end?.status === 'completed') return { status: 'completed', reason: null, final: f.slurm?.final ?? true };
  if (f.end?.status === 'failed') return { status: 'failed', reason: f.end.reason, final: f.slurm?.final ?? true };
  const s = f.slurm;
  if (!s) {
    // Slurm forgot the job (it ended MinJobAge ago and the cluster keeps no accounting): the messages are all
    // there is. An engine that stopped cleanly was stopped; one that said nothing was cut off.
    if (f.end) return { status: f.stopIntent ?? 'stopped', reason: null, final: true };
    const reason =
      `Slurm no longer knows task ${f.ref} and its messages end without a finish; ` + resumeFrom(f.lastCheckpoint);
    return { status: 'interrupted', reason, final: true };
  }
  if (!s.final) return { status: s.status, reason: s.reason, final: false };
  switch (s.status) {
    case 'stopped': {
      // scancel: the user's stop or pause from the studio, or someone's scancel on the cluster.
      const who = f.stopIntent
        ? `cancelled from the studio (scancel ${f.ref})`
        : `${s.reason ?? 'cancelled'} in Slurm (${f.ref})`;
      return { status: f.stopIntent ?? 'stopped', reason: `${who}; ${resumeFrom(f.lastCheckpoint)}`, final: true };
    }
    case 'completed':
      // The task's script exited 0, yet training did not say it completed: it was stopped on the way.
      return {
        status: 'interrupted',
        reason: `task ${f.ref} ended before training finished; ${resumeFrom(f.lastCheckpoint)}`,
        final: true,
      };
    case 'interrupted':
      return { status: 'interrupted', reason: `${s.reason}; ${resumeFrom(f.lastCheckpoint)}`, final: true };
    default:
      return { status: s.status, reason: s.reason, final: true };
  }
}
