/**
 * What a failed store write means for a run: another connection holds the write lock (wait and retry),
 * the disk or database is full (stop the run after a checkpoint), or something else the recorder cannot
 * fix by waiting (stop too). better-sqlite3 throws SqliteError with `code` set to SQLite's extended code.
 */
import { statfsSync } from 'node:fs';

export type StoreErrorKind = 'busy' | 'full' | 'other';

/** Below this, an I/O error from SQLite is taken for a full disk (SQLite reports ENOSPC on fsync/truncate as IOERR). */
const LOW_SPACE_BYTES = 64 * 2 ** 20;

export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Bytes available to this user on the filesystem holding `dir`, or null where it cannot be read. */
export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

export function classifyStoreError(err: unknown, dataDir: string): StoreErrorKind {
  const code = errorCode(err);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'full';
  if (code.startsWith('SQLITE_IOERR')) {
    const free = freeBytes(dataDir);
    if (free !== null && free < LOW_SPACE_BYTES) return 'full';
  }
  return 'other';
}

export function fmtMiB(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One sentence for a run's failure reason: what failed, where, and the free space left. */
export function describeStoreFailure(err: unknown, db: string, dataDir: string): string {
  const kind = classifyStoreError(err, dataDir);
  const code = errorCode(err);
  const msg = (err as Error)?.message ?? String(err);
  const free = freeBytes(dataDir);
  const space = free === null ? 'free space unknown' : `${fmtMiB(free)} free`;
  const what = kind === 'full' ? 'the disk or the database is full' : 'a write failed';
  return (
    `the run database ${db} could not be written (${what}: ${msg}${code ? `, ${code}` : ''}); ` +
    `data folder ${dataDir}: ${space}`
  );
}
