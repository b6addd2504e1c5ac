/**
 * Temp files left by a process that was killed mid-import (in <data>/datasets), mid-export (in
 * <data>/exports) or while caching reference statistics (in <data>/cache): its cleanup never ran.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DataLayout } from './dataDir';
import { isTagAlive } from './owner';

/**
 * Temp files of dataset imports in <data>/datasets: `.import-<owner>-<stamp>.{sadpm-ds,png}` (named by
 * the importing process; <owner> is an ownerTag, or a bare pid in older releases) and the engine's
 * atomic-write temp of those, `..import-<owner>-<stamp>.sadpm-ds.<engine pid>.<n>.tmp`.
 */
const IMPORT_TEMP = /^\.?\.import-(\d+)-(?:([0-9a-f]{8})-)?[0-9a-z]+\.(?:sadpm-ds|png)(?:\.(\d+)\.\d+\.tmp|\.unzip)?$/;
/** An atomic-write temp (src/io/atomicFile) in <data>/exports or <data>/cache: `.<name>.<writer pid>.<n>.tmp`. */
const ATOMIC_TEMP = /^\..+\.(\d+)\.\d+\.tmp$/;

/** The processes that write a temp file, from its name; null for a name that is not one of our temp files. */
type TempWriters = { owner: number; hash?: string; engine?: number } | null;

function importTempWriters(name: string): TempWriters {
  const m = IMPORT_TEMP.exec(name);
  return m ? { owner: Number(m[1]), hash: m[2], engine: m[3] ? Number(m[3]) : undefined } : null;
}

function atomicTempWriters(name: string): TempWriters {
  const m = ATOMIC_TEMP.exec(name);
  return m ? { owner: Number(m[1]) } : null;
}

/** Removes the temp files whose writing processes are all gone, and says which. */
export function sweepTempFiles(layout: DataLayout): { path: string; bytes: number }[] {
  const removed: { path: string; bytes: number }[] = [];
  const places = [
    [layout.datasets, importTempWriters],
    [layout.exports, atomicTempWriters],
    [layout.cache, atomicTempWriters],
  ] as const;
  for (const [dir, writersOf] of places) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const w = writersOf(name);
      if (!w || isTagAlive(w.owner, w.hash) || (w.engine !== undefined && isTagAlive(w.engine))) continue;
      const path = join(dir, name);
      try {
        const bytes = statSync(path).size;
        // A .zip import's extraction folder (`.import-….sadpm-ds.unzip/`) goes whole.
        rmSync(path, { force: true, recursive: true });
        removed.push({ path, bytes });
      } catch {
        // Gone already (another process swept it): nothing to report.
      }
    }
  }
  return removed;
}
