/** The monitor's words for what a run is doing now (from the engine's activity messages). */
import type { ActivityMessage } from '../../../shared/engineMessages';

function count(a: ActivityMessage): string {
  return a.done !== undefined && a.total ? ` ${a.done}/${a.total}` : '';
}

export function describeActivity(a: ActivityMessage | null | undefined): string {
  if (!a) return '';
  switch (a.activity) {
    case 'training':
      return 'training';
    case 'sampling':
      return `sampling${count(a)}`;
    case 'gap':
      return `measuring the gap${count(a)}`;
    case 'checkpoint':
      return 'writing a checkpoint';
  }
}

/** What the header says while a pause or stop waits for the engine to reach a safe point. */
export function describePending(p: 'pausing' | 'stopping', a: ActivityMessage | null | undefined): string {
  const now = describeActivity(a);
  const verb = p === 'pausing' ? 'Pausing' : 'Stopping';
  return now && now !== 'training' ? `${verb} (${now})…` : `${verb}…`;
}
