/**
 * Who owns a running run: a process id plus that process's start time, so a recycled pid is not
 * mistaken for the owner after a reboot or a long pause.
 */
import { createHash } from 'node:crypto';
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

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is not our owner anymore... unless it is
    // the same start time, which only /proc can tell.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return true;
}

export function isOwnerAlive(owner: Owner): boolean {
  if (!pidExists(owner.pid)) return false;
  if (!owner.start) return true;
  const now = processStart(owner.pid);
  return now === '' || now === owner.start;
}

function startHash(start: string): string {
  return createHash('sha1').update(start).digest('hex').slice(0, 8);
}

/**
 * An owner in a form that fits a file name: `<pid>-<8 hex of the start time>`. Temp files carry it, so
 * the next start can tell whether the process that writes them is still alive.
 */
export function ownerTag(owner: Owner = currentOwner()): string {
  return `${owner.pid}-${startHash(owner.start)}`;
}

/** Whether the owner a tag names (or, without a hash, any process with that pid) is alive. */
export function isTagAlive(pid: number, hash?: string): boolean {
  if (!pidExists(pid)) return false;
  if (!hash) return true;
  const now = processStart(pid);
  return now === '' || startHash(now) === hash;
}
