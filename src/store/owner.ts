/**
 * Who owns a running run: a process id plus that process's start time, so a recycled pid is not
 * mistaken for the owner after a reboot or a long pause.
 */
import { readFileSync } from 'node:fs';

export interface Owner {
  pid: number;
  start: string;
}

/** The start time of a process as the OS reports it, or '' where it cannot be read. */
export function processStart(pid: number): string {
  try {
    // Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. The command name (field 2)
    // may contain spaces and parentheses, so split after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${bootId}:${rest[19]}`;
  } catch {
    return '';
  }
}

export function currentOwner(): Owner {
  return { pid: process.pid, start: processStart(process.pid) };
}

export function isOwnerAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is not our owner anymore... unless it is
    // the same start time, which only /proc can tell.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!owner.start) return true;
  const now = processStart(owner.pid);
  return now === '' || now === owner.start;
}
